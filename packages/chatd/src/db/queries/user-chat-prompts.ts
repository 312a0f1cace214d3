import type { Db } from '../connection.js';
import type { UserChatPromptRow } from '../rows.js';

/** The user's custom prompt, or undefined when they never set one: read on every turn (cached). */
export async function getUserChatPrompt(db: Db, userId: string): Promise<UserChatPromptRow | undefined> {
  const [row] = await db<[UserChatPromptRow?]>`
    SELECT user_id, custom_prompt, updated_at FROM user_chat_prompts WHERE user_id = ${userId}`;
  return row;
}

/** Sets the user's custom prompt (insert or replace). */
export async function upsertUserChatPrompt(
  db: Db,
  userId: string,
  customPrompt: string,
): Promise<UserChatPromptRow> {
  const [row] = await db<[UserChatPromptRow]>`
    INSERT INTO user_chat_prompts (user_id, custom_prompt) VALUES (${userId}, ${customPrompt})
    ON CONFLICT (user_id) DO UPDATE SET custom_prompt = excluded.custom_prompt, updated_at = now()
    RETURNING user_id, custom_prompt, updated_at`;
  return row!;
}
