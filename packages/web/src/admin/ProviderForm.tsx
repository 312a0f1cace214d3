import { type FormEvent, useId, useState } from 'react';
import type { ProviderInput } from '../api/admin';
import { PROVIDER_KINDS, type Provider, type ProviderKind } from '../api/types';

/**
 * Creates or edits a provider. The API key is write-only: the field starts empty (placeholder
 * "unchanged" when one is stored) and is sent only when typed in, or removed on request.
 */
export function ProviderForm({
  provider,
  busy,
  onSubmit,
  onCancel,
}: {
  provider?: Provider;
  busy: boolean;
  onSubmit: (input: ProviderInput) => void;
  onCancel?: () => void;
}) {
  const id = useId();
  const [kind, setKind] = useState<ProviderKind>(provider?.provider ?? 'openai');
  const [displayName, setDisplayName] = useState(provider?.display_name ?? '');
  const [baseUrl, setBaseUrl] = useState(provider?.base_url ?? '');
  const [apiKey, setApiKey] = useState('');
  const [removeKey, setRemoveKey] = useState(false);
  const [enabled, setEnabled] = useState(provider?.enabled ?? true);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const input: ProviderInput = {
      provider: kind,
      display_name: displayName.trim(),
      base_url: baseUrl.trim() || null,
      enabled,
    };
    if (removeKey) input.api_key = null;
    else if (apiKey) input.api_key = apiKey;
    onSubmit(input);
  };
  return (
    <form
      className="form-grid"
      onSubmit={submit}
      aria-label={provider ? `Edit ${provider.display_name}` : 'New provider'}
    >
      <label className="field">
        <span>Kind</span>
        <select value={kind} onChange={(event) => setKind(event.target.value as ProviderKind)}>
          {PROVIDER_KINDS.map((value) => (
            <option key={value} value={value}>
              {value}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Display name</span>
        <input required value={displayName} onChange={(event) => setDisplayName(event.target.value)} />
      </label>
      <label className="field">
        <span>Base URL</span>
        <input
          type="url"
          value={baseUrl}
          placeholder={kind === 'openai-compat' ? 'https://…/v1' : 'default'}
          onChange={(event) => setBaseUrl(event.target.value)}
        />
      </label>
      <label className="field">
        <span>API key</span>
        <input
          type="password"
          autoComplete="off"
          value={apiKey}
          disabled={removeKey}
          placeholder={provider?.has_api_key ? 'unchanged' : 'none'}
          aria-describedby={`${id}-key-help`}
          onChange={(event) => setApiKey(event.target.value)}
        />
        <small id={`${id}-key-help`} className="muted">
          Write-only: a stored key is never shown.
          {provider ? ' Changing the kind or base URL without a new key removes the stored one.' : ''}
        </small>
      </label>
      {provider?.has_api_key && (
        <label className="checkbox">
          <input
            type="checkbox"
            checked={removeKey}
            onChange={(event) => setRemoveKey(event.target.checked)}
          />
          <span>Remove the stored API key</span>
        </label>
      )}
      <label className="checkbox">
        <input type="checkbox" checked={enabled} onChange={(event) => setEnabled(event.target.checked)} />
        <span>Enabled</span>
      </label>
      <div className="row">
        <button type="submit" className="button-primary" disabled={busy}>
          {provider ? 'Save provider' : 'Add provider'}
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
