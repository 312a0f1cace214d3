import type { ChatdServer, ChatdServerOptions } from '../../../chatd/src/cli/chatd-server.js';
import { ChatdClient } from '../../../chatd/src/scaletest/chatd-client.js';
import { createTestDatabase, type TestDatabase } from '../../../chatd/test/support/test-database.js';
import { startTestServer } from '../../../chatd/test/support/test-server.js';

/** Real chatd replicas serving the built web app, on one fresh database. */
export interface WebTestCluster {
  readonly database: TestDatabase;
  /** The replicas, in start order; the first created the admin. */
  readonly replicas: readonly ChatdServer[];
  /** The first replica's URL. */
  readonly url: string;
  /** The first admin's login (username and the generated password) and its API token. */
  readonly admin: { readonly username: string; readonly password: string; readonly token: string };
  /** The API as the admin, on the first replica (to set up what a test does not drive through the UI). */
  readonly adminApi: ChatdClient;
  close(): Promise<void>;
}

/**
 * Starts `replicas` full chatd servers in this process on a new clone of the test database (one
 * database, as a deployment behind a load balancer), each serving `packages/web/dist` at `/`. The
 * first start creates the first admin, whose password logs in through the UI.
 */
export async function startWebTestCluster(
  options: { replicas?: number; server?: Partial<Omit<ChatdServerOptions, 'postgresUrl'>> } = {},
): Promise<WebTestCluster> {
  const database = await createTestDatabase();
  const replicas: ChatdServer[] = [];
  const close = async () => {
    for (const replica of replicas.splice(0).reverse()) await replica.close();
    await database.drop();
  };
  try {
    for (let index = 0; index < (options.replicas ?? 1); index++) {
      replicas.push(await startTestServer(database.url, options.server));
    }
    const first = replicas[0]!;
    const created = first.firstAdmin;
    if (!created?.password)
      throw new Error('the first replica did not create the first admin with a password');
    return {
      database,
      replicas,
      url: first.url,
      admin: { username: created.user.username, password: created.password, token: created.token },
      adminApi: new ChatdClient(first.url, created.token),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
