import { type FormEvent, useState } from 'react';
import { ErrorNotice } from '../ui/ErrorNotice';
import { PageTitle } from '../ui/PageTitle';
import { useAction } from '../ui/use-action';
import { useSession } from './session-context';

/** The login form (username and password). */
export function LoginPage() {
  const { logIn, restoreError } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const login = useAction(logIn);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void login.run(username, password);
  };
  return (
    <main className="login" id="main">
      <form className="card login-card" onSubmit={submit}>
        <PageTitle title="Log in" />
        <h1>Log in to chatd</h1>
        <ErrorNotice error={login.error ?? restoreError} />
        <label className="field">
          <span>Username</span>
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            onChange={(event) => setUsername(event.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </label>
        <button type="submit" className="button-primary" disabled={login.busy}>
          {login.busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
