import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { ChatdClient } from '../../src/scaletest/chatd-client.js';
import { type LlmMockServer, startLlmMockServer } from '../../src/scaletest/llm-mock-server.js';
import { useTestDatabase } from '../support/test-database.js';
import { createMember, createModel, startTestServer, waitForTurn } from '../support/test-server.js';

// One server on this file's database, so that it runs every turn and its log shows each of them.
const db = useTestDatabase();
const lines: string[] = [];
let server: ChatdServer;
let admin: ChatdClient;
let mock: LlmMockServer;

beforeAll(async () => {
  server = await startTestServer(db.database.url, {
    logger: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }),
  });
  admin = new ChatdClient(server.url, server.firstAdmin!.token);
  mock = await startLlmMockServer({ responseTokens: 4 });
});
afterAll(async () => {
  await server?.close();
  await mock?.close();
});

describe('provider warnings', () => {
  it('are logged once per model config, not on every turn', async () => {
    const { modelConfigId } = await createModel(admin, {
      provider: 'openai-compat',
      model: 'mock-model',
      baseUrl: mock.url,
    });
    // An OpenAI-compatible server takes no top_k: the provider warns, and ignores it.
    await admin.request('PATCH', `/api/v1/chat/model-configs/${modelConfigId}`, { options: { top_k: 5 } });
    const dave = await createMember(admin, server.url, 'dave');
    for (const content of ['One.', 'Two.', 'Three.']) {
      const chat = await dave.createChat(content, modelConfigId);
      expect((await waitForTurn(dave, chat.id, { minMessages: 2 })).status).toBe('waiting');
    }
    const warnings = lines
      .map((line) => JSON.parse(line) as { msg: string })
      .filter((line) => line.msg === 'the provider warned about this model config');
    expect(warnings).toEqual([
      expect.objectContaining({
        modelConfigId,
        model: 'mock-model',
        warning: { type: 'unsupported', feature: 'topK' },
      }),
    ]);
  });
});
