import type { Db } from '../connection.js';

/** The deployment-wide system prompt ('' when unset): read on every turn (cached). */
export async function getSystemPrompt(db: Db): Promise<string> {
  const [row] = await db<[{ systemPrompt: string }?]>`SELECT system_prompt FROM deployment_settings`;
  return row?.systemPrompt ?? '';
}

/** Replaces the deployment-wide system prompt. */
export async function setSystemPrompt(db: Db, systemPrompt: string): Promise<void> {
  await db`
    INSERT INTO deployment_settings (singleton, system_prompt) VALUES (true, ${systemPrompt})
    ON CONFLICT (singleton) DO UPDATE SET system_prompt = excluded.system_prompt, updated_at = now()`;
}
