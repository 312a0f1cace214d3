/** Chats and their messages. */
import { chatd, request } from './client';
import type { Chat, ChatDetail, ChatPage, SendResult } from './types';

export type { SendResult } from './types';

/** Chats per page of the sidebar. */
export const CHAT_PAGE_SIZE = 30;

/** One page of the caller's chats, newest first; `q` searches titles and content. */
export function listChats(query: {
  q?: string;
  cursor?: string;
  archived?: 'false' | 'true';
}): Promise<ChatPage> {
  return request(
    chatd.api.GET('/api/v1/chats', {
      params: {
        query: {
          q: query.q || undefined,
          cursor: query.cursor,
          archived: query.archived,
          limit: CHAT_PAGE_SIZE,
        },
      },
    }),
  );
}

/** A chat with its newest `limit` messages (or those before `beforeId`) and its queue. */
export function getChat(id: string, page: { beforeId?: number; limit?: number } = {}): Promise<ChatDetail> {
  return request(
    chatd.api.GET('/api/v1/chats/{id}', {
      params: { path: { id }, query: { before_id: page.beforeId, limit: page.limit } },
    }),
  );
}

/** Starts a chat with its first message. */
export function createChat(content: string, modelConfigId: string | undefined): Promise<Chat> {
  return request(chatd.api.POST('/api/v1/chats', { body: { content, model_config_id: modelConfigId } }));
}

/** Sends a message to a chat. */
export function sendMessage(id: string, content: string): Promise<SendResult> {
  return request(
    chatd.api.POST('/api/v1/chats/{id}/messages', { params: { path: { id } }, body: { content } }),
  );
}

/** Renames a chat. */
export function renameChat(id: string, title: string): Promise<Chat> {
  return request(chatd.api.PATCH('/api/v1/chats/{id}', { params: { path: { id } }, body: { title } }));
}

/** Deletes a chat and all its messages. */
export async function deleteChat(id: string): Promise<void> {
  await request(chatd.api.DELETE('/api/v1/chats/{id}', { params: { path: { id } } }));
}

/** Edits a user message: what follows it is removed and the turn runs again. */
export async function editMessage(id: string, messageId: number, content: string): Promise<void> {
  await request(
    chatd.api.PATCH('/api/v1/chats/{id}/messages/{message_id}', {
      params: { path: { id, message_id: messageId } },
      body: { content },
    }),
  );
}

/** The chat actions without a body: each answers 202 or 204. */
export type ChatAction = 'interrupt' | 'regenerate' | 'retry' | 'compact' | 'archive' | 'unarchive';

/** Runs one of the body-less chat actions. */
export async function runChatAction(id: string, action: ChatAction): Promise<void> {
  const params = { params: { path: { id } } };
  const pending = {
    interrupt: () => chatd.api.POST('/api/v1/chats/{id}/interrupt', params),
    regenerate: () => chatd.api.POST('/api/v1/chats/{id}/regenerate', params),
    retry: () => chatd.api.POST('/api/v1/chats/{id}/retry', params),
    compact: () => chatd.api.POST('/api/v1/chats/{id}/compact', params),
    archive: () => chatd.api.POST('/api/v1/chats/{id}/archive', params),
    unarchive: () => chatd.api.POST('/api/v1/chats/{id}/unarchive', params),
  }[action]();
  await request(pending);
}
