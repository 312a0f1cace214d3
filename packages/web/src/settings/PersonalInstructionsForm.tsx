import { type FormEvent, useEffect, useState } from 'react';
import { getUserPrompt, setUserPrompt } from '../api/account';
import { ErrorNotice } from '../ui/ErrorNotice';
import { useAction } from '../ui/use-action';
import { useAsync } from '../ui/use-async';

/** The personal instructions every chat of this person starts with. */
export function PersonalInstructionsForm() {
  const loaded = useAsync(getUserPrompt);
  const [prompt, setPrompt] = useState('');
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (loaded.data !== undefined) setPrompt(loaded.data);
  }, [loaded.data]);
  const save = useAction(setUserPrompt);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(await save.run(prompt));
  };
  return (
    <section className="card">
      <h2>Personal instructions</h2>
      <p className="muted">Sent to the model with every chat of yours (at most 128 KiB).</p>
      <ErrorNotice error={loaded.error ?? save.error} />
      <form onSubmit={submit}>
        <label className="field">
          <span>Personal instructions</span>
          <textarea
            rows={6}
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
            Save instructions
          </button>
          <span role="status">{saved ? 'Saved.' : ''}</span>
        </div>
      </form>
    </section>
  );
}
