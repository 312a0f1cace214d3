import { type FormEvent, useState } from 'react';
import { changeOwnPassword } from '../api/account';
import { useUser } from '../session/session-context';
import { ErrorNotice } from '../ui/ErrorNotice';
import { useAction } from '../ui/use-action';

/** Changes the logged-in person's password (asks for the current one). */
export function ChangePasswordForm() {
  const user = useUser();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState(false);
  const change = useAction(changeOwnPassword);
  const mismatch = repeat !== '' && next !== repeat;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (mismatch) return;
    const ok = await change.run(current, next);
    setDone(ok);
    if (ok) {
      setCurrent('');
      setNext('');
      setRepeat('');
    }
  };
  return (
    <section className="card">
      <h2>Change password</h2>
      <ErrorNotice error={change.error} />
      <form onSubmit={submit}>
        {/* For password managers: which account this password belongs to. */}
        <input type="text" name="username" autoComplete="username" value={user.username} readOnly hidden />
        <label className="field">
          <span>Current password</span>
          <input
            type="password"
            autoComplete="current-password"
            required
            value={current}
            onChange={(event) => setCurrent(event.target.value)}
          />
        </label>
        <label className="field">
          <span>New password</span>
          <input
            type="password"
            autoComplete="new-password"
            required
            value={next}
            onChange={(event) => setNext(event.target.value)}
          />
        </label>
        <label className="field">
          <span>Repeat new password</span>
          <input
            type="password"
            autoComplete="new-password"
            required
            value={repeat}
            aria-invalid={mismatch}
            aria-describedby={mismatch ? 'password-mismatch' : undefined}
            onChange={(event) => setRepeat(event.target.value)}
          />
        </label>
        {mismatch && (
          <p id="password-mismatch" className="field-error">
            The passwords differ.
          </p>
        )}
        <div className="row">
          <button type="submit" className="button-primary" disabled={change.busy || mismatch}>
            Change password
          </button>
          <span role="status">{done ? 'Password changed.' : ''}</span>
        </div>
      </form>
    </section>
  );
}
