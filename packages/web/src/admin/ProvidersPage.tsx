import { useState } from 'react';
import {
  createProvider,
  deleteProvider,
  listProviders,
  type ProviderInput,
  updateProvider,
} from '../api/admin';
import { ConfirmButton } from '../ui/ConfirmButton';
import { ErrorNotice } from '../ui/ErrorNotice';
import { PageTitle } from '../ui/PageTitle';
import { useAction } from '../ui/use-action';
import { useAsync } from '../ui/use-async';
import { ProviderForm } from './ProviderForm';

/** LLM providers: list, add, edit, delete. */
export function ProvidersPage() {
  const providers = useAsync(listProviders);
  const [editingId, setEditingId] = useState<string>();
  const [adding, setAdding] = useState(false);
  const save = useAction(async (id: string | undefined, input: ProviderInput) => {
    if (id) await updateProvider(id, input);
    else await createProvider(input);
    setEditingId(undefined);
    setAdding(false);
    await providers.reload();
  });
  const remove = useAction(async (id: string) => {
    await deleteProvider(id);
    await providers.reload();
  });
  return (
    <section className="page">
      <PageTitle title="Providers" />
      <h1>Providers</h1>
      <ErrorNotice error={providers.error ?? save.error ?? remove.error} />
      {adding ? (
        <div className="card">
          <h2>New provider</h2>
          <ProviderForm
            busy={save.busy}
            onSubmit={(input) => void save.run(undefined, input)}
            onCancel={() => setAdding(false)}
          />
        </div>
      ) : (
        <button type="button" className="button-primary" onClick={() => setAdding(true)}>
          Add provider
        </button>
      )}
      <ul className="item-list">
        {providers.data?.map((provider) => (
          <li key={provider.id} className="card">
            {editingId === provider.id ? (
              <>
                <h2>Edit {provider.display_name}</h2>
                <ProviderForm
                  provider={provider}
                  busy={save.busy}
                  onSubmit={(input) => void save.run(provider.id, input)}
                  onCancel={() => setEditingId(undefined)}
                />
              </>
            ) : (
              <div className="item-row">
                <div>
                  <h2 className="item-title">{provider.display_name}</h2>
                  <p className="muted">
                    {provider.provider}
                    {provider.base_url ? ` · ${provider.base_url}` : ''} ·{' '}
                    {provider.enabled ? 'enabled' : 'disabled'} ·{' '}
                    {provider.has_api_key ? 'API key stored' : 'no API key'}
                  </p>
                </div>
                <div className="row">
                  <button type="button" className="button-small" onClick={() => setEditingId(provider.id)}>
                    Edit {provider.display_name}
                  </button>
                  <ConfirmButton
                    label={`Delete ${provider.display_name}`}
                    confirmLabel="Delete provider"
                    question={`Delete the provider ${provider.display_name}?`}
                    disabled={remove.busy}
                    onConfirm={() => void remove.run(provider.id)}
                  />
                </div>
              </div>
            )}
          </li>
        ))}
      </ul>
      {providers.data?.length === 0 && <p className="muted">No providers yet.</p>}
    </section>
  );
}
