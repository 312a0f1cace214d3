import { type FormEvent, useState } from 'react';
import { createOwnToken, listOwnTokens, revokeOwnToken } from '../api/account';
import type { IssuedApiToken } from '../api/types';
import { ConfirmButton } from '../ui/ConfirmButton';
import { CopyButton } from '../ui/CopyButton';
import { ErrorNotice } from '../ui/ErrorNotice';
import { formatDateTime } from '../ui/format';
import { useAction } from '../ui/use-action';
import { useAsync } from '../ui/use-async';

const LIFETIMES = [
  { value: '', label: 'Never' },
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
  { value: '365d', label: '1 year' },
];

/** A token just issued: shown this once, with a copy button. */
export function IssuedTokenNotice({ token, onDismiss }: { token: string; onDismiss: () => void }) {
  return (
    <div className="notice notice-success" role="status">
      <p>Copy the token now: it will not be shown again.</p>
      <div className="row">
        <label className="field field-grow">
          <span>New token</span>
          <input readOnly value={token} className="mono" onFocus={(event) => event.target.select()} />
        </label>
        <CopyButton text={token} label="Copy token" />
        <button type="button" className="button-small" onClick={onDismiss}>
          Done
        </button>
      </div>
    </div>
  );
}

/** The person's API tokens: list, create (the token shown once), revoke. */
export function ApiTokensSection() {
  const tokens = useAsync(listOwnTokens);
  const [name, setName] = useState('');
  const [lifetime, setLifetime] = useState('');
  const [issued, setIssued] = useState<IssuedApiToken>();
  const create = useAction(async () => {
    setIssued(await createOwnToken(name.trim(), lifetime));
    setName('');
    await tokens.reload();
  });
  const revoke = useAction(async (id: string) => {
    await revokeOwnToken(id);
    await tokens.reload();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  return (
    <section className="card">
      <h2>API tokens</h2>
      <p className="muted">For scripts and other clients: send as "Authorization: Bearer …".</p>
      <ErrorNotice error={tokens.error ?? create.error ?? revoke.error} />
      {issued && <IssuedTokenNotice token={issued.token} onDismiss={() => setIssued(undefined)} />}
      <form className="row row-end" onSubmit={submit}>
        <label className="field field-grow">
          <span>Token name</span>
          <input required maxLength={200} value={name} onChange={(event) => setName(event.target.value)} />
        </label>
        <label className="field">
          <span>Expires</span>
          <select value={lifetime} onChange={(event) => setLifetime(event.target.value)}>
            {LIFETIMES.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="button-primary" disabled={create.busy || !name.trim()}>
          Create token
        </button>
      </form>
      {tokens.data && tokens.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Your API tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((token) => (
                <tr key={token.id}>
                  <th scope="row">{token.name}</th>
                  <td>{formatDateTime(token.created_at)}</td>
                  <td>{formatDateTime(token.last_used_at)}</td>
                  <td>{token.expires_at ? formatDateTime(token.expires_at) : 'Never'}</td>
                  <td>
                    <ConfirmButton
                      label={`Revoke ${token.name}`}
                      confirmLabel="Revoke"
                      question={`Revoke the token ${token.name}?`}
                      disabled={revoke.busy}
                      onConfirm={() => void revoke.run(token.id)}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        !tokens.loading && <p className="muted">No API tokens.</p>
      )}
    </section>
  );
}
