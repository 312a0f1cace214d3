import { z } from 'zod';

/** The channel the config-change triggers notify on (migration 0002). */
export const CONFIG_CHANGE_CHANNEL = 'chat:config_change';

/** What changed: one kind per configuration table. */
export const CONFIG_CHANGE_KINDS = ['providers', 'model_config', 'user_prompt', 'system_prompt'] as const;
export type ConfigChangeKind = (typeof CONFIG_CHANGE_KINDS)[number];

const configChangeSchema = z.object({
  kind: z.enum(CONFIG_CHANGE_KINDS),
  /** The changed row's id (a user id for `user_prompt`); null means "every thing of this kind". */
  id: z.string().nullable(),
  /** From one sequence: orders every change. */
  version: z.number().int().nonnegative(),
});

/** A config-change notification as the triggers send it. */
export type ConfigChange = z.infer<typeof configChangeSchema>;

/** Parses a notification payload; undefined when it is not a config change (logged by the caller). */
export function parseConfigChange(payload: string): ConfigChange | undefined {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const result = configChangeSchema.safeParse(json);
  return result.success ? result.data : undefined;
}
