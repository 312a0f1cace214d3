import { useCallback, useEffect, useState } from 'react';
import { listUsers } from '../api/admin';
import type { UserAccount } from '../api/types';
import { useUser } from '../session/session-context';
import { ErrorNotice } from '../ui/ErrorNotice';
import { PageTitle } from '../ui/PageTitle';
import { useAction } from '../ui/use-action';
import { CreateUserForm } from './CreateUserForm';
import { UserRow } from './UserRow';

/** Users: the list (paged), creation, roles, disabling and password resets. */
export function UsersPage() {
  const me = useUser();
  const [users, setUsers] = useState<UserAccount[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const load = useAction(
    useCallback(async (from: string | undefined) => {
      const page = await listUsers(from);
      setUsers((known) => {
        const base = from === undefined ? [] : known;
        const seen = new Set(base.map((user) => user.id));
        return [...base, ...page.users.filter((user) => !seen.has(user.id))];
      });
      setCursor(page.next_cursor);
    }, []),
  );
  const { run } = load;
  useEffect(() => {
    void run(undefined);
  }, [run]);
  const replace = (changed: UserAccount) =>
    setUsers((known) => known.map((user) => (user.id === changed.id ? changed : user)));
  return (
    <section className="page">
      <PageTitle title="Users" />
      <h1>Users</h1>
      <CreateUserForm onCreated={(user) => setUsers((known) => [...known, user])} />
      <ErrorNotice error={load.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Users</caption>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <UserRow key={user.id} user={user} isSelf={user.id === me.id} onChanged={replace} />
            ))}
          </tbody>
        </table>
      </div>
      {cursor !== null && (
        <button type="button" className="button-small" disabled={load.busy} onClick={() => void run(cursor)}>
          {load.busy ? 'Loading…' : 'Load more users'}
        </button>
      )}
    </section>
  );
}
