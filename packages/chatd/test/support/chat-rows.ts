import type { Sql } from '../../src/db/connection.js';

/** A table and the column of it that holds a chat's id. */
export interface ChatColumn {
  readonly table: string;
  readonly column: string;
  /** The foreign key's ON DELETE action (`c` cascade, `n` set null, …), or null without a foreign key. */
  readonly onDelete: string | null;
}

/**
 * Every column that holds rows of a chat, read from the catalog (so tables added by later migrations are
 * found without touching the tests): foreign keys to `chats`, and any column named `chat_id`.
 */
export async function chatColumns(sql: Sql): Promise<ChatColumn[]> {
  return sql<ChatColumn[]>`
    SELECT c.conrelid::regclass::text AS table, a.attname::text AS column, c.confdeltype::text AS on_delete
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.contype = 'f' AND c.confrelid = 'chats'::regclass
    UNION
    SELECT col.table_name::text, col.column_name::text, NULL
    FROM information_schema.columns col
    WHERE col.table_schema = current_schema() AND col.column_name = 'chat_id'
      AND NOT EXISTS (
        SELECT 1 FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.confrelid = 'chats'::regclass
          AND c.conrelid::regclass::text = col.table_name AND a.attname = col.column_name)
    ORDER BY 1, 2`;
}

/** How many rows of the chat each such column still holds, plus the chat row itself (`chats.id`). */
export async function rowsOfChat(sql: Sql, chatId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const columns = [{ table: 'chats', column: 'id' }, ...(await chatColumns(sql))];
  for (const { table, column } of columns) {
    const [row] = await sql<[{ count: number }]>`
      SELECT count(*)::int AS count FROM ${sql(table)} WHERE ${sql(column)} = ${chatId}`;
    counts[`${table}.${column}`] = row!.count;
  }
  return counts;
}
