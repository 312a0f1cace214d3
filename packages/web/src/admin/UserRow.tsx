import { type FormEvent, useState } from 'react';
import { resetUserPassword, updateUser } from '../api/admin';
import type { UserAccount, UserRole } from '../api/types';
import { ErrorNotice } from '../ui/ErrorNotice';
import { formatDateTime } from '../ui/format';
import { useAction } from '../ui/use-action';

/** One user in the table: role, disable/enable, and a password reset. */
export function UserRow({
  user,
  isSelf,
  onChanged,
}: {
  user: UserAccount;
  isSelf: boolean;
  onChanged: (user: UserAccount) => void;
}) {
  const [resetting, setResetting] = useState(false);
  const [password, setPassword] = useState('');
  const [resetDone, setResetDone] = useState(false);
  // The role being saved, shown while the request runs (a failed save shows the stored role again).
  const [savingRole, setSavingRole] = useState<UserRole>();
  const change = useAction(async (update: { role?: UserRole; disabled?: boolean }) => {
    onChanged(await updateUser(user.id, update));
  });
  const changeRole = async (role: UserRole) => {
    setSavingRole(role);
    await change.run({ role });
    setSavingRole(undefined);
  };
  const reset = useAction(async () => {
    await resetUserPassword(user.id, password);
    setPassword('');
    setResetting(false);
    setResetDone(true);
  });
  const submitReset = (event: FormEvent) => {
    event.preventDefault();
    void reset.run();
  };
  return (
    <tr>
      <th scope="row">
        {user.username}
        {isSelf && <span className="badge">you</span>}
      </th>
      <td>
        <label>
          <span className="visually-hidden">Role of {user.username}</span>
          <select
            value={savingRole ?? user.role}
            disabled={change.busy || isSelf}
            onChange={(event) => void changeRole(event.target.value as UserRole)}
          >
            <option value="member">member</option>
            <option value="admin">admin</option>
          </select>
        </label>
      </td>
      <td>{user.disabled ? `disabled ${formatDateTime(user.disabled_at)}` : 'active'}</td>
      <td>{formatDateTime(user.created_at)}</td>
      <td>
        <div className="row">
          <button
            type="button"
            className="button-small"
            disabled={change.busy || isSelf}
            onClick={() => void change.run({ disabled: !user.disabled })}
          >
            {user.disabled ? `Enable ${user.username}` : `Disable ${user.username}`}
          </button>
          {resetting ? (
            <form className="row" onSubmit={submitReset}>
              <label>
                <span className="visually-hidden">New password for {user.username}</span>
                <input
                  type="password"
                  autoComplete="new-password"
                  required
                  placeholder="New password"
                  value={password}
                  onChange={(event) => setPassword(event.target.value)}
                />
              </label>
              <button type="submit" className="button-small button-primary" disabled={reset.busy}>
                Save password
              </button>
              <button type="button" className="button-small" onClick={() => setResetting(false)}>
                Cancel
              </button>
            </form>
          ) : (
            <button
              type="button"
              className="button-small"
              onClick={() => {
                setResetDone(false);
                setResetting(true);
              }}
            >
              Reset password of {user.username}
            </button>
          )}
          <span role="status">{resetDone ? 'Password set.' : ''}</span>
        </div>
        <ErrorNotice error={change.error ?? reset.error} />
      </td>
    </tr>
  );
}
