import type { Db } from '../connection.js';

/** One row of a usage report: the totals of one user or one model config over the range. */
export interface UsageRow {
  key: string | null;
  /** The username or the model config's display name (null: deleted, or no model config). */
  name: string | null;
  inputTokens: number;
  outputTokens: number;
  turns: number;
}

/**
 * Token usage summed over the UTC days `from`..`to` (both inclusive, `YYYY-MM-DD`), per user or per model
 * config, largest output first.
 */
export async function getUsageReport(
  db: Db,
  input: { from: string; to: string; groupBy: 'user' | 'model_config' },
): Promise<UsageRow[]> {
  if (input.groupBy === 'user') {
    return db<UsageRow[]>`
      SELECT u.user_id::text AS key, users.username AS name, sum(u.input_tokens)::bigint AS input_tokens,
             sum(u.output_tokens)::bigint AS output_tokens, sum(u.turns)::bigint AS turns
      FROM chat_usage_daily u LEFT JOIN users ON users.id = u.user_id
      WHERE u.day BETWEEN ${input.from}::date AND ${input.to}::date
      GROUP BY u.user_id, users.username
      ORDER BY output_tokens DESC, key`;
  }
  return db<UsageRow[]>`
    SELECT u.model_config_id::text AS key, c.display_name AS name, sum(u.input_tokens)::bigint AS input_tokens,
           sum(u.output_tokens)::bigint AS output_tokens, sum(u.turns)::bigint AS turns
    FROM chat_usage_daily u LEFT JOIN chat_model_configs c ON c.id = u.model_config_id
    WHERE u.day BETWEEN ${input.from}::date AND ${input.to}::date
    GROUP BY u.model_config_id, c.display_name
    ORDER BY output_tokens DESC, key NULLS LAST`;
}
