import { type FormEvent, useId, useState } from 'react';
import type { ModelConfigInput } from '../api/admin';
import type { ModelConfig, Provider } from '../api/types';

/** The options JSON as typed: an object, or why not. */
function parseOptions(text: string): { options?: Record<string, unknown>; error?: string } {
  if (!text.trim()) return { options: {} };
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return { error: 'Options must be a JSON object, such as {"temperature": 0.2}.' };
    return { options: value as Record<string, unknown> };
  } catch (error) {
    return { error: `Options are not valid JSON: ${(error as Error).message}` };
  }
}

/** Creates or edits a model config (the provider is chosen once, at creation). */
export function ModelConfigForm({
  config,
  providers,
  busy,
  onSubmit,
  onCancel,
}: {
  config?: ModelConfig;
  providers: readonly Provider[];
  busy: boolean;
  onSubmit: (input: ModelConfigInput) => void;
  onCancel?: () => void;
}) {
  const id = useId();
  const [providerId, setProviderId] = useState(config?.provider_id ?? providers[0]?.id ?? '');
  const [model, setModel] = useState(config?.model ?? '');
  const [displayName, setDisplayName] = useState(config?.display_name ?? '');
  const [isDefault, setIsDefault] = useState(config?.is_default ?? false);
  const [enabled, setEnabled] = useState(config?.enabled ?? true);
  const [contextLimit, setContextLimit] = useState(String(config?.context_limit ?? 128000));
  // The API answers the effective reserve (the default when none is set), so an edit starts with it.
  const shownMaxOutputTokens = config ? String(config.max_output_tokens) : '';
  const [maxOutputTokens, setMaxOutputTokens] = useState(shownMaxOutputTokens);
  const [threshold, setThreshold] = useState(String(config?.compression_threshold ?? 70));
  const [optionsText, setOptionsText] = useState(config ? JSON.stringify(config.options, null, 2) : '{}');
  const parsed = parseOptions(optionsText);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!parsed.options) return;
    const maxOutput = maxOutputTokens.trim();
    onSubmit({
      provider_id: providerId,
      model: model.trim(),
      display_name: displayName.trim(),
      is_default: isDefault,
      enabled,
      context_limit: Number(contextLimit),
      // Sent only when changed: saving other fields must not turn a default reserve into a fixed one
      // (which a smaller context limit would then refuse).
      ...(config && maxOutput === shownMaxOutputTokens
        ? {}
        : { max_output_tokens: maxOutput ? Number(maxOutput) : null }),
      compression_threshold: Number(threshold),
      options: parsed.options,
    });
  };
  return (
    <form
      className="form-grid"
      onSubmit={submit}
      aria-label={config ? `Edit ${config.display_name}` : 'New model'}
    >
      <label className="field">
        <span>Provider</span>
        <select
          required
          value={providerId}
          disabled={config !== undefined}
          onChange={(event) => setProviderId(event.target.value)}
        >
          {providers.map((provider) => (
            <option key={provider.id} value={provider.id}>
              {provider.display_name} ({provider.provider})
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Model</span>
        <input
          required
          value={model}
          placeholder="gpt-4o, claude-sonnet-4, echo…"
          onChange={(event) => setModel(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Display name</span>
        <input required value={displayName} onChange={(event) => setDisplayName(event.target.value)} />
      </label>
      <label className="field">
        <span>Context limit (tokens)</span>
        <input
          type="number"
          required
          min={1}
          step={1}
          value={contextLimit}
          onChange={(event) => setContextLimit(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Max output tokens</span>
        <input
          type="number"
          min={1}
          step={1}
          value={maxOutputTokens}
          placeholder="default"
          aria-describedby={`${id}-max-help`}
          onChange={(event) => setMaxOutputTokens(event.target.value)}
        />
        <small id={`${id}-max-help`} className="muted">
          At most half the context limit; empty for the default.
        </small>
      </label>
      <label className="field">
        <span>Compression threshold (%)</span>
        <input
          type="number"
          required
          min={1}
          max={100}
          step={1}
          value={threshold}
          aria-describedby={`${id}-threshold-help`}
          onChange={(event) => setThreshold(event.target.value)}
        />
        <small id={`${id}-threshold-help`} className="muted">
          The share of the context limit at which older history is summarised.
        </small>
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={enabled} onChange={(event) => setEnabled(event.target.checked)} />
        <span>Enabled</span>
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={isDefault} onChange={(event) => setIsDefault(event.target.checked)} />
        <span>Default model</span>
      </label>
      <label className="field field-wide">
        <span>Options (JSON)</span>
        <textarea
          rows={4}
          className="mono"
          value={optionsText}
          aria-invalid={parsed.error !== undefined}
          aria-describedby={parsed.error ? `${id}-options-error` : undefined}
          onChange={(event) => setOptionsText(event.target.value)}
        />
        {parsed.error && (
          <small id={`${id}-options-error`} className="field-error">
            {parsed.error}
          </small>
        )}
      </label>
      <div className="row field-wide">
        <button type="submit" className="button-primary" disabled={busy || parsed.error !== undefined}>
          {config ? 'Save model' : 'Add model'}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
