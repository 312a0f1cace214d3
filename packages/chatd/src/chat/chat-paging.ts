import type { ChatPageKey } from '../db/queries/chat-pages.js';
import { InvalidInputError } from '../errors.js';

/** Chats or messages per page when the caller does not say. */
export const DEFAULT_PAGE_SIZE = 50;
/** The largest page a caller may ask for. */
export const MAX_PAGE_SIZE = 200;

/** Which chats a list shows: the unarchived ones (the default), the archived ones only, or both. */
export type ArchivedFilter = 'false' | 'true' | 'all';

/** What `GET /chats` asks for. */
export interface ChatListRequest {
  readonly archived: ArchivedFilter;
  readonly limit: number;
  /** A `next_cursor` of an earlier page (opaque to clients). */
  readonly cursor?: string | undefined;
  /** Full-text search over titles and message content; blank means no search. */
  readonly q?: string | undefined;
}

/** The first characters of `q` that are searched (a guard: a query is a few words). */
export const MAX_SEARCH_LENGTH = 500;

const KEY_PATTERN =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/**
 * The opaque cursor of a page key: base64url of `<updated_at>|<id>`. Clients must not build or parse it;
 * its only promise is that passing it back resumes after the chat it was made from.
 */
export function encodeChatCursor(key: ChatPageKey): string {
  return Buffer.from(`${key.updatedAt}|${key.id}`, 'utf8').toString('base64url');
}

/** The page key of a cursor; {@link InvalidInputError} when it is not one {@link encodeChatCursor} made. */
export function decodeChatCursor(cursor: string): ChatPageKey {
  const match = /^[A-Za-z0-9_-]{1,200}$/.test(cursor)
    ? KEY_PATTERN.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
    : null;
  // A real instant (not February 30th, which PostgreSQL would refuse as a 500): it survives a round trip.
  const updatedAt = match?.[1];
  const ms = updatedAt === undefined ? Number.NaN : Date.parse(updatedAt);
  if (!match || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== updatedAt!.slice(0, 19)) {
    throw new InvalidInputError('query parameter cursor: not a cursor this server returned');
  }
  return { updatedAt: match[1]!, id: match[2]! };
}

/** The archive condition of a list: true (archived only), false (unarchived only), null (both). */
export function archivedCondition(filter: ArchivedFilter): boolean | null {
  return filter === 'all' ? null : filter === 'true';
}
