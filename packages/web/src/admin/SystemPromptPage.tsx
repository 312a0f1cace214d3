import { type FormEvent, useEffect, useState } from 'react';
import { getSystemPrompt, setSystemPrompt } from '../api/admin';
import { ErrorNotice } from '../ui/ErrorNotice';
import { PageTitle } from '../ui/PageTitle';
import { useAction } from '../ui/use-action';
import { useAsync } from '../ui/use-async';

/** The deployment's system prompt, sent first in every chat. */
export function SystemPromptPage() {
  const loaded = useAsync(getSystemPrompt);
  const [prompt, setPrompt] = useState('');
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (loaded.data !== undefined) setPrompt(loaded.data);
  }, [loaded.data]);
  const save = useAction(setSystemPrompt);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(await save.run(prompt));
  };
  return (
    <section className="page">
      <PageTitle title="System prompt" />
      <h1>System prompt</h1>
      <p className="muted">Sent to the model first in every chat of every user.</p>
      <ErrorNotice error={loaded.error ?? save.error} />
      <form onSubmit={submit}>
        <label className="field">
          <span>System prompt</span>
          <textarea
            rows={10}
            value={prompt}
            disabled={loaded.loading}
            onChange={(event) => {
              setPrompt(event.target.value);
              setSaved(false);
            }}
          />
        </label>
        <div className="row">
          <button type="submit" className="button-primary" disabled={save.busy || loaded.loading}>
            Save system prompt
          </button>
          <span role="status">{saved ? 'Saved.' : ''}</span>
        </div>
      </form>
    </section>
  );
}
