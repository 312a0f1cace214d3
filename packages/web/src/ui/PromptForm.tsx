import { type FormEvent, useEffect, useState } from 'react';
import { ErrorNotice } from './ErrorNotice';
import { useAction } from './use-action';
import { useAsync } from './use-async';

/** Props of {@link PromptForm}. */
export interface PromptFormProps {
  /** The textarea's label (its accessible name). */
  readonly label: string;
  /** The save button's text. */
  readonly saveLabel: string;
  readonly rows: number;
  /** Reads the stored prompt. */
  readonly load: () => Promise<string>;
  /** Stores a prompt. */
  readonly store: (prompt: string) => Promise<unknown>;
}

/**
 * A prompt loaded from the API, edited in a textarea and saved with a button ("Saved." once stored):
 * the system prompt and the personal instructions.
 */
export function PromptForm({ label, saveLabel, rows, load, store }: PromptFormProps) {
  const loaded = useAsync(load);
  const [prompt, setPrompt] = useState('');
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (loaded.data !== undefined) setPrompt(loaded.data);
  }, [loaded.data]);
  const save = useAction(store);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(await save.run(prompt));
  };
  return (
    <>
      <ErrorNotice error={loaded.error ?? save.error} />
      <form onSubmit={submit}>
        <label className="field">
          <span>{label}</span>
          <textarea
            rows={rows}
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
            {saveLabel}
          </button>
          <span role="status">{saved ? 'Saved.' : ''}</span>
        </div>
      </form>
    </>
  );
}
