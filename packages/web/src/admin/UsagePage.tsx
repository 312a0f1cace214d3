import { useCallback, useState } from 'react';
import { getUsage } from '../api/admin';
import type { UsageGrouping, UsageRow } from '../api/types';
import { ErrorNotice } from '../ui/ErrorNotice';
import { formatCount } from '../ui/format';
import { PageTitle } from '../ui/PageTitle';
import { useAsync } from '../ui/use-async';

/** The total of one column (counts may arrive as strings: PostgreSQL bigints). */
function sum(rows: readonly UsageRow[], column: 'input_tokens' | 'output_tokens' | 'turns'): number {
  return rows.reduce((total, row) => total + Number(row[column]), 0);
}

/** Token usage per user or per model over a range of UTC days (by default the last 30). */
export function UsagePage() {
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [groupBy, setGroupBy] = useState<UsageGrouping>('user');
  const report = useAsync(useCallback(() => getUsage({ from, to, group_by: groupBy }), [from, to, groupBy]));
  const rows = report.data?.rows ?? [];
  return (
    <section className="page">
      <PageTitle title="Usage" />
      <h1>Usage</h1>
      <form className="row row-end" onSubmit={(event) => event.preventDefault()}>
        <label className="field">
          <span>From</span>
          <input type="date" value={from} onChange={(event) => setFrom(event.target.value)} />
        </label>
        <label className="field">
          <span>To</span>
          <input type="date" value={to} onChange={(event) => setTo(event.target.value)} />
        </label>
        <label className="field">
          <span>Group by</span>
          <select value={groupBy} onChange={(event) => setGroupBy(event.target.value as UsageGrouping)}>
            <option value="user">User</option>
            <option value="model_config">Model</option>
          </select>
        </label>
      </form>
      <ErrorNotice error={report.error} />
      {report.data && (
        <p className="muted" role="status">
          {report.data.from} to {report.data.to} (UTC days)
        </p>
      )}
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Token usage</caption>
          <thead>
            <tr>
              <th scope="col">{groupBy === 'user' ? 'User' : 'Model'}</th>
              <th scope="col" className="numeric">
                Input tokens
              </th>
              <th scope="col" className="numeric">
                Output tokens
              </th>
              <th scope="col" className="numeric">
                Turns
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key ?? 'none'}>
                <th scope="row">{row.name ?? (row.key ? `deleted (${row.key.slice(0, 8)})` : 'none')}</th>
                <td className="numeric">{formatCount(Number(row.input_tokens))}</td>
                <td className="numeric">{formatCount(Number(row.output_tokens))}</td>
                <td className="numeric">{formatCount(Number(row.turns))}</td>
              </tr>
            ))}
          </tbody>
          {rows.length > 1 && (
            <tfoot>
              <tr>
                <th scope="row">Total</th>
                <td className="numeric">{formatCount(sum(rows, 'input_tokens'))}</td>
                <td className="numeric">{formatCount(sum(rows, 'output_tokens'))}</td>
                <td className="numeric">{formatCount(sum(rows, 'turns'))}</td>
              </tr>
            </tfoot>
          )}
        </table>
      </div>
      {report.data && rows.length === 0 && <p className="muted">No usage in this range.</p>}
    </section>
  );
}
