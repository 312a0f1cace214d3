import { z } from 'zod';
import { InvalidInputError } from '../../errors.js';
import { usageReportSchema } from '../schemas/chat-config.js';
import { jsonResponse } from '../schemas/responses.js';
import type { ApiInstance, RouteContext } from './route-context.js';

const DAY_MS = 86_400_000;
/** The longest range one report sums: ten years of days. */
const MAX_RANGE_DAYS = 3_660;

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date such as 2026-12-01')
  .refine(
    (value) =>
      !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) &&
      new Date(`${value}T00:00:00Z`).toISOString().startsWith(value),
    'must be a real date',
  );
const usageQuery = z.strictObject({
  from: isoDay.optional(),
  to: isoDay.optional(),
  group_by: z.enum(['user', 'model_config']).default('user'),
});

/**
 * `GET /usage?from&to&group_by=user|model_config` (admins): tokens and turns per user or per model config
 * over UTC days, both ends inclusive; by default the last 30 days up to today. Usage outlives deleted chats.
 */
export function registerUsageRoutes(app: ApiInstance, { deps, access }: RouteContext): void {
  const schema = {
    operationId: 'getUsage',
    summary: 'Tokens and turns per user or per model config',
    description:
      'Over UTC days, both ends inclusive; by default the last 30 days up to today, at most 3660 days. ' +
      'Usage outlives deleted chats.',
    tags: ['usage'],
    querystring: usageQuery,
    response: { 200: jsonResponse('The report, largest output first', usageReportSchema) },
  };
  app.get('/usage', { onRequest: access.requireAdmin, schema }, async (request) => {
    const { query } = request;
    const to = query.to ?? new Date().toISOString().slice(0, 10);
    const from =
      query.from ?? new Date(Date.parse(`${to}T00:00:00Z`) - 29 * DAY_MS).toISOString().slice(0, 10);
    const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS;
    if (days < 0) throw new InvalidInputError('query parameter from: must not be after to');
    if (days >= MAX_RANGE_DAYS)
      throw new InvalidInputError(`the range must be at most ${MAX_RANGE_DAYS} days`);
    const rows = await deps.store.getUsageReport({ from, to, groupBy: query.group_by });
    return {
      from,
      to,
      group_by: query.group_by,
      rows: rows.map((row) => ({
        key: row.key,
        name: row.name,
        input_tokens: row.inputTokens,
        output_tokens: row.outputTokens,
        turns: row.turns,
      })),
    };
  });
}
