import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, formatOpenApiDocument } from '../../src/http/openapi-document.js';
import { runCli } from '../support/cli-process.js';

describe('chatd openapi', () => {
  it('prints the OpenAPI document with sorted keys, with no database anywhere', async () => {
    // An unreachable database: the command must not need one.
    const result = await runCli(['openapi'], { CHATD_POSTGRES_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(formatOpenApiDocument(await buildOpenApiDocument()));
    const document = JSON.parse(result.stdout);
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(document)).toEqual([...Object.keys(document)].sort());
  });

  it('writes it to --output FILE', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chatd-openapi-'));
    try {
      const file = path.join(dir, 'openapi.json');
      const result = await runCli(['openapi', '--output', file]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('');
      expect(JSON.parse(await readFile(file, 'utf8')).paths['/api/v1/chats'].post.operationId).toBe(
        'createChat',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('explains itself in --help', async () => {
    const result = await runCli(['openapi', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: chatd openapi');
    expect(result.stdout).toContain('--output <file>');
    expect(result.stdout).toContain('without a database');
  });
});
