import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { createSql } from '../../src/db/connection.js';
import { eventually } from '../support/eventually.js';
import { useTestDatabase } from '../support/test-database.js';
import { startTestServer } from '../support/test-server.js';

const db = useTestDatabase();
let server: ChatdServer;
const logLines: Array<{ level: number; msg: string; usage?: number }> = [];

// The queue is the whole cluster's (8 GB by default, too big to fill in a test): a threshold of 0.01%
// is about 100 pages of 8 kB, well above what other test files leave in it, well below what we fill.
const THRESHOLD = 0.0001;

beforeAll(async () => {
  server = await startTestServer(db.database.url, {
    prometheusAddress: { host: '127.0.0.1', port: 0 },
    notifyQueueThreshold: THRESHOLD,
    logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) }),
  });
});
afterAll(() => server?.close());

async function readiness(): Promise<{ status: number; reasons: string[] }> {
  const response = await fetch(`${server.url}/readyz`);
  const body = (await response.json()) as { reasons?: string[] };
  return { status: response.status, reasons: body.reasons ?? [] };
}

async function usageMetric(): Promise<number> {
  const text = await (await fetch(server.metricsUrl!)).text();
  const line = text.split('\n').find((l) => l.startsWith('chatd_pubsub_notify_queue_usage_ratio '));
  expect(line, 'the gauge is exported').toBeDefined();
  return Number(line!.split(' ')[1]);
}

describe('the NOTIFY queue', () => {
  it('is exported as a gauge, and above the threshold the replica warns and is not ready', async () => {
    expect(await readiness()).toEqual({ status: 200, reasons: [] });
    expect(await usageMetric()).toBeLessThan(THRESHOLD);

    // A session that LISTENs and then sits in a transaction reads nothing: the queue cannot drain past it.
    const holderPool = createSql(db.database.url, { maxConnections: 1 });
    const filler = createSql(db.database.url, { maxConnections: 1 });
    const holder = await holderPool.reserve();
    try {
      await holder`LISTEN chatd_test_fill`;
      await holder`BEGIN`;
      // About 3.5 MB: 430 pages. Distinct payloads (a transaction folds identical notifications).
      await filler`SELECT pg_notify('chatd_test_fill', i::text || repeat('x', 7000)) FROM generate_series(1, 500) AS i`;

      await eventually(async () => (await readiness()).status === 503, 'not ready', 10_000);
      expect((await readiness()).reasons).toEqual([
        expect.stringMatching(
          /^the PostgreSQL notification queue is [\d.]+% full \(over 0\.010%\): a session that LISTENs is not reading/,
        ),
      ]);
      expect(await usageMetric()).toBeGreaterThan(THRESHOLD);
      expect(logLines).toContainEqual(
        expect.objectContaining({ level: 40, msg: expect.stringMatching(/notification queue is filling/) }),
      );
    } finally {
      await holder`COMMIT`.catch(() => undefined);
      await holder`UNLISTEN *`.catch(() => undefined);
      holder.release();
      await holderPool.end();
      await filler.end();
    }
    // Once the listener reads (here: leaves), the queue drains and the replica is ready again.
    await eventually(async () => (await readiness()).status === 200, 'ready again', 15_000);
    expect(logLines).toContainEqual(
      expect.objectContaining({ level: 30, msg: expect.stringMatching(/below its threshold again/) }),
    );
  });
});
