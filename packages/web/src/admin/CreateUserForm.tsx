import { type FormEvent, useState } from 'react';
import { createUser } from '../api/admin';
import type { UserAccount, UserRole } from '../api/types';
import { IssuedTokenNotice } from '../settings/ApiTokensSection';
import { ErrorNotice } from '../ui/ErrorNotice';
import { useAction } from '../ui/use-action';

/** Creates a user; shows the API token issued with it once. */
export function CreateUserForm({ onCreated }: { onCreated: (user: UserAccount) => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<UserRole>('member');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState<string>();
  const create = useAction(async () => {
    const created = await createUser({ username: username.trim(), role, password: password || undefined });
    setToken(created.token);
    setUsername('');
    setPassword('');
    onCreated(created.user);
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  return (
    <div className="card">
      <h2>New user</h2>
      <ErrorNotice error={create.error} />
      {token && <IssuedTokenNotice token={token} onDismiss={() => setToken(undefined)} />}
      <form className="row row-end" onSubmit={submit}>
        <label className="field">
          <span>Username</span>
          <input
            required
            autoComplete="off"
            value={username}
            onChange={(event) => setUsername(event.target.value)}
          />
        </label>
        <label className="field">
          <span>Role</span>
          <select value={role} onChange={(event) => setRole(event.target.value as UserRole)}>
            <option value="member">member</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <label className="field">
          <span>Password (optional)</span>
          <input
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </label>
        <button type="submit" className="button-primary" disabled={create.busy || !username.trim()}>
          Create user
        </button>
      </form>
    </div>
  );
}
