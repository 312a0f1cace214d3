/** Response bodies of the configuration routes: providers, model configs, prompts and config status. */
import { z } from 'zod';
import { PROVIDER_KINDS } from '../../db/rows.js';

const timestamp = z.string().describe('An ISO-8601 timestamp (UTC)');

export const providerSchema = z
  .strictObject({
    id: z.string(),
    provider: z.enum(PROVIDER_KINDS),
    display_name: z.string(),
    base_url: z.string().nullable(),
    enabled: z.boolean(),
    has_api_key: z.boolean().describe('The API key is write-only: only whether one is set is shown'),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Provider', description: 'An LLM provider' });

export const providerListSchema = z
  .strictObject({ providers: z.array(providerSchema) })
  .meta({ id: 'ProviderList' });

export const modelConfigSchema = z
  .strictObject({
    id: z.string(),
    provider_id: z.string(),
    model: z.string(),
    display_name: z.string(),
    enabled: z.boolean(),
    is_default: z.boolean(),
    context_limit: z.number().int(),
    max_output_tokens: z
      .number()
      .int()
      .describe('The answer reserve in force (the default when none was set)'),
    compression_threshold: z.number().int().describe('A percentage of context_limit'),
    options: z.record(z.string(), z.unknown()).describe('Provider options (a JSON object)'),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'ModelConfig', description: 'A model configuration' });

export const modelConfigListSchema = z
  .strictObject({ model_configs: z.array(modelConfigSchema) })
  .meta({ id: 'ModelConfigList' });

export const userPromptSchema = z.strictObject({ custom_prompt: z.string() }).meta({ id: 'UserPrompt' });

export const systemPromptSchema = z.strictObject({ system_prompt: z.string() }).meta({ id: 'SystemPrompt' });

export const configStatusSchema = z
  .strictObject({
    version: z.number().int().describe('The latest configuration version'),
    replicas: z.array(
      z.strictObject({
        id: z.string(),
        hostname: z.string(),
        applied_version: z.number().int().describe('The configuration version this replica applied'),
        heartbeat_at: timestamp,
        started_at: timestamp,
      }),
    ),
  })
  .meta({ id: 'ConfigStatus' });

export const usageReportSchema = z
  .strictObject({
    from: z.string().describe('The first UTC day (YYYY-MM-DD)'),
    to: z.string().describe('The last UTC day (YYYY-MM-DD), inclusive'),
    group_by: z.enum(['user', 'model_config']),
    rows: z.array(
      z.strictObject({
        key: z.string().nullable().describe('The user or model config id (null: no model config)'),
        name: z.string().nullable().describe('The username or display name (null: deleted)'),
        input_tokens: z.number().int(),
        output_tokens: z.number().int(),
        turns: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'UsageReport' });

export type ProviderJson = z.output<typeof providerSchema>;
export type ModelConfigJson = z.output<typeof modelConfigSchema>;
export type ConfigStatusJson = z.output<typeof configStatusSchema>;
