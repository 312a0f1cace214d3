import { useState } from 'react';
import { listModelConfigs } from '../api/account';
import {
  createModelConfig,
  deleteModelConfig,
  listProviders,
  type ModelConfigInput,
  updateModelConfig,
} from '../api/admin';
import { ConfirmButton } from '../ui/ConfirmButton';
import { ErrorNotice } from '../ui/ErrorNotice';
import { formatCount } from '../ui/format';
import { PageTitle } from '../ui/PageTitle';
import { useAction } from '../ui/use-action';
import { useAsync } from '../ui/use-async';
import { ModelConfigForm } from './ModelConfigForm';

async function loadModelsAndProviders() {
  const [configs, providers] = await Promise.all([listModelConfigs(), listProviders()]);
  return { configs, providers };
}

/** Model configurations: list, add, edit, delete (softly). */
export function ModelConfigsPage() {
  const loaded = useAsync(loadModelsAndProviders);
  const [editingId, setEditingId] = useState<string>();
  const [adding, setAdding] = useState(false);
  const save = useAction(async (id: string | undefined, input: ModelConfigInput) => {
    if (id) {
      const { provider_id: _, ...change } = input;
      await updateModelConfig(id, change);
    } else await createModelConfig(input);
    setEditingId(undefined);
    setAdding(false);
    await loaded.reload();
  });
  const remove = useAction(async (id: string) => {
    await deleteModelConfig(id);
    await loaded.reload();
  });
  const providers = loaded.data?.providers ?? [];
  const providerName = (id: string) =>
    providers.find((provider) => provider.id === id)?.display_name ?? 'unknown provider';
  return (
    <section className="page">
      <PageTitle title="Models" />
      <h1>Models</h1>
      <ErrorNotice error={loaded.error ?? save.error ?? remove.error} />
      {adding ? (
        <div className="card">
          <h2>New model</h2>
          <ModelConfigForm
            providers={providers}
            busy={save.busy}
            onSubmit={(input) => void save.run(undefined, input)}
            onCancel={() => setAdding(false)}
          />
        </div>
      ) : (
        <button
          type="button"
          className="button-primary"
          disabled={providers.length === 0}
          onClick={() => setAdding(true)}
        >
          Add model
        </button>
      )}
      {loaded.data && providers.length === 0 && <p className="muted">Add a provider first.</p>}
      <ul className="item-list">
        {loaded.data?.configs.map((config) => (
          <li key={config.id} className="card">
            {editingId === config.id ? (
              <>
                <h2>Edit {config.display_name}</h2>
                <ModelConfigForm
                  config={config}
                  providers={providers}
                  busy={save.busy}
                  onSubmit={(input) => void save.run(config.id, input)}
                  onCancel={() => setEditingId(undefined)}
                />
              </>
            ) : (
              <div className="item-row">
                <div>
                  <h2 className="item-title">
                    {config.display_name}
                    {config.is_default && <span className="badge">default</span>}
                    {!config.enabled && <span className="badge badge-muted">disabled</span>}
                  </h2>
                  <p className="muted">
                    {providerName(config.provider_id)} · {config.model} · context{' '}
                    {formatCount(config.context_limit)} · output {formatCount(config.max_output_tokens)} ·
                    compress at {config.compression_threshold}%
                  </p>
                </div>
                <div className="row">
                  <button type="button" className="button-small" onClick={() => setEditingId(config.id)}>
                    Edit {config.display_name}
                  </button>
                  <ConfirmButton
                    label={`Delete ${config.display_name}`}
                    confirmLabel="Delete model"
                    question={`Delete the model ${config.display_name}? Chats keep their history.`}
                    disabled={remove.busy}
                    onConfirm={() => void remove.run(config.id)}
                  />
                </div>
              </div>
            )}
          </li>
        ))}
      </ul>
      {loaded.data?.configs.length === 0 && <p className="muted">No models yet.</p>}
    </section>
  );
}
