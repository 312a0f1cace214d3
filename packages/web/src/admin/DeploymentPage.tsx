import { getConfigStatus } from '../api/admin';
import { ErrorNotice } from '../ui/ErrorNotice';
import { formatAge, formatDateTime } from '../ui/format';
import { PageTitle } from '../ui/PageTitle';
import { useAsync } from '../ui/use-async';
import { usePollingWhileVisible } from '../ui/use-polling';

/** How often the page asks for the replicas' state while it is visible. */
const REFRESH_MS = 2000;

/** Every replica and the config version it applied, against the database's; refreshed live. */
export function DeploymentPage() {
  const status = useAsync(getConfigStatus);
  usePollingWhileVisible(() => void status.reload(), REFRESH_MS);
  const data = status.data;
  const behind = data?.replicas.filter((replica) => replica.applied_version < data.version).length ?? 0;
  return (
    <section className="page">
      <PageTitle title="Deployment" />
      <h1>Deployment</h1>
      <ErrorNotice error={status.error} />
      {data && (
        <>
          <p role="status" className={behind ? 'notice notice-warning' : 'notice notice-success'}>
            Database config version {data.version}:{' '}
            {behind === 0
              ? `all ${data.replicas.length} replicas in sync.`
              : `${behind} of ${data.replicas.length} replicas behind.`}
          </p>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Replicas</caption>
              <thead>
                <tr>
                  <th scope="col">Hostname</th>
                  <th scope="col">Replica id</th>
                  <th scope="col" className="numeric">
                    Applied version
                  </th>
                  <th scope="col">State</th>
                  <th scope="col">Last heartbeat</th>
                  <th scope="col">Started</th>
                </tr>
              </thead>
              <tbody>
                {data.replicas.map((replica) => (
                  <tr key={replica.id}>
                    <th scope="row">{replica.hostname}</th>
                    <td className="mono">{replica.id}</td>
                    <td className="numeric">{replica.applied_version}</td>
                    <td>
                      {replica.applied_version >= data.version
                        ? 'in sync'
                        : `behind by ${data.version - replica.applied_version}`}
                    </td>
                    <td>
                      <time
                        dateTime={replica.heartbeat_at}
                        title={formatDateTime(replica.heartbeat_at, { seconds: true })}
                      >
                        {formatAge(replica.heartbeat_at)}
                      </time>
                    </td>
                    <td>{formatDateTime(replica.started_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
