/**
 * postgres.js 3.4.9 writes on a connection whose socket has closed (porsager/postgres#1154, #1208): a
 * small write is deferred with `setImmediate`, and when it runs after the connection lost its socket it
 * throws a `TypeError` out of the timer, which no caller can catch, so the process ends. chatd's patch of
 * the driver (`patches/postgres+3.4.9.patch`, applied by `npm ci`) rejects the query instead, and drops
 * what was buffered for the closed socket so that none of it is sent on the next one. The test runs the driver in a child process, where that crash is an exit status.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * A reserved connection (chatd's pub/sub and migrations pin one) whose backend is terminated while idle,
 * then used: the socket is gone before the query's write runs. Prints what each step gave.
 */
const SCRIPT = `
import postgres from 'postgres';
const url = process.argv[1];
const sql = postgres(url, { max: 2, onnotice: () => {} });
const admin = postgres(url, { max: 1 });
const reserved = await sql.reserve();
const [{ pid }] = await reserved\`SELECT pg_backend_pid() AS pid\`;
await admin\`SELECT pg_terminate_backend(\${pid})\`;
// Until the terminated backend's close has reached the reserved connection.
await new Promise((resolve) => setTimeout(resolve, 300));
for (const attempt of [1, 2]) {
  try {
    await reserved\`SELECT 1 AS one\`;
    console.log('attempt ' + attempt + ': answered');
  } catch (error) {
    console.log('attempt ' + attempt + ': rejected ' + error.code);
  }
}
// The pool's other connection serves the process on.
const [{ one }] = await sql\`SELECT 1 AS one\`;
console.log('the pool answers: ' + one);
await admin.end();
await sql.end({ timeout: 1 });
console.log('done');
`;

async function runScript(url: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, url], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

describe('a postgres.js write on a connection that lost its socket', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  // Broken before (seen): the driver's deferred write threw "Cannot read properties of null (reading
  // 'write')" from an Immediate and the process exited with status 1. In `scaletest run --faults`, a
  // replica died that way at a PostgreSQL restart, from its pub/sub connection.
  it('rejects the query with CONNECTION_CLOSED instead of ending the process, which goes on', async () => {
    const { code, output } = await runScript(database.url);
    expect(output).not.toContain("reading 'write'");
    expect(code, output).toBe(0);
    // A reserved connection is pinned: postgres.js never reopens it, so every query on it is refused
    // (and every one ended the process before the patch).
    expect(output).toContain('attempt 1: rejected CONNECTION_CLOSED');
    expect(output).toContain('attempt 2: rejected CONNECTION_CLOSED');
    expect(output).toContain('the pool answers: 1');
    expect(output).toContain('done');
  }, 60_000);
});
