import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, stream };
}

describe('logger', () => {
  it('redacts tokens, API keys, passwords and Authorization headers wherever they appear', () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', stream);
    logger.info(
      { token: 'chatd_secret_token', apiKey: 'sk-live-1', provider: { api_key: 'sk-live-2' } },
      'one',
    );
    logger.info({ req: { headers: { authorization: 'Bearer chatd_abc', host: 'example' } } }, 'two');
    logger.info(
      { user: { password: 'hunter2', name: 'alice' }, postgresUrl: 'postgres://u:pw@h/db' },
      'three',
    );
    logger.info(
      {
        req: { headers: { cookie: 'chatd_session=chatds_x_y', 'x-csrf-token': 'csrf-value' } },
        body: { current_password: 'old-secret', csrf_token: 'csrf-2' },
      },
      'four',
    );
    const output = lines.join('');
    for (const secret of [
      'chatd_secret_token',
      'sk-live-1',
      'sk-live-2',
      'chatd_abc',
      'hunter2',
      'pw@h',
      'chatds_x_y',
      'csrf-value',
      'old-secret',
      'csrf-2',
    ]) {
      expect(output).not.toContain(secret);
    }
    expect(output).toContain('[redacted]');
    expect(output).toContain('alice');
    expect(output).toContain('example');
  });
});
