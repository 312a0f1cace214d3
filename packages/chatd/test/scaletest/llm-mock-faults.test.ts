import { afterEach, describe, expect, it } from 'vitest';
import {
  createLlmFaultPlan,
  LLM_FAULT_MODES,
  lastUserMessageText,
  parseLlmFaultModes,
} from '../../src/scaletest/llm-mock-faults.js';
import { type LlmMockServer, startLlmMockServer } from '../../src/scaletest/llm-mock-server.js';

describe('createLlmFaultPlan', () => {
  it('fails about the given share, rotating through the modes, the same way for the same seed', () => {
    const draw = (seed: number) => {
      const plan = createLlmFaultPlan(0.2, seed);
      return Array.from({ length: 5_000 }, () => plan.next());
    };
    const first = draw(7);
    expect(draw(7)).toEqual(first);
    expect(draw(8)).not.toEqual(first);
    const faults = first.filter((outcome) => outcome !== 'ok');
    expect(faults.length).toBeGreaterThan(900);
    expect(faults.length).toBeLessThan(1_100);
    // Successive faults rotate: http-500, cut, http-400, silent, http-500, ...
    expect(faults.slice(0, 8)).toEqual([...LLM_FAULT_MODES, ...LLM_FAULT_MODES]);
  });

  it('never fails at rate 0 and always at rate 1', () => {
    const never = createLlmFaultPlan(0, 1);
    const always = createLlmFaultPlan(1, 1, ['cut']);
    for (let i = 0; i < 100; i++) {
      expect(never.next()).toBe('ok');
      expect(always.next()).toBe('cut');
    }
  });

  it('parses mode lists and rejects unknown modes', () => {
    expect(parseLlmFaultModes('all')).toEqual(LLM_FAULT_MODES);
    expect(parseLlmFaultModes('cut, silent')).toEqual(['cut', 'silent']);
    expect(() => parseLlmFaultModes('cut,explode')).toThrow(/unknown fault mode 'explode'/);
  });

  it('reads the last user message, as a string or as text parts', () => {
    expect(
      lastUserMessageText([
        { role: 'system', content: 's' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'a' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'sec' },
            { type: 'text', text: 'ond' },
          ],
        },
      ]),
    ).toBe('second');
    expect(lastUserMessageText([{ role: 'system', content: 's' }])).toBeUndefined();
  });
});

describe('the mock LLM with a fault rate', () => {
  let server: LlmMockServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** One streamed completion: its status, the content received, and how it ended. */
  async function complete(
    url: string,
    content: string,
    timeoutMs = 1_000,
  ): Promise<{ status: number; text: string; ending: 'done' | 'broken' | 'silent' }> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(`${url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content }] }),
        signal: controller.signal,
      });
      let text = '';
      try {
        for await (const chunk of response.body!) text += Buffer.from(chunk).toString();
      } catch {
        return { status: response.status, text, ending: controller.signal.aborted ? 'silent' : 'broken' };
      }
      return { status: response.status, text, ending: 'done' };
    } finally {
      clearTimeout(timer);
    }
  }

  it('answers each mode as described and counts the requests by outcome and by last user message', async () => {
    server = await startLlmMockServer({
      faultRate: 1,
      responseTokens: 8,
      chunkDelayMs: 2,
      recordLastUserMessages: true,
    });
    const [http500, cut, http400, silent, again] = [
      await complete(server.url, 'one'),
      await complete(server.url, 'two'),
      await complete(server.url, 'three'),
      await complete(server.url, 'four', 500),
      await complete(server.url, 'one'),
    ];
    expect(http500).toMatchObject({ status: 500, ending: 'done' });
    expect(JSON.parse(http500.text).error.type).toBe('server_error');
    // Half the answer, then the connection breaks: no finish chunk, no [DONE].
    expect(cut.status).toBe(200);
    expect(cut.ending).toBe('broken');
    expect(cut.text).toContain('Lorem');
    expect(cut.text).not.toContain('[DONE]');
    expect(http400).toMatchObject({ status: 400, ending: 'done' });
    // Headers and the role chunk, then nothing until the client gave up.
    expect(silent.status).toBe(200);
    expect(silent.ending).toBe('silent');
    expect(silent.text).toContain('"role":"assistant"');
    expect(silent.text).not.toContain('Lorem');
    expect(again.status).toBe(500);
    expect(server.outcomes).toEqual({ ok: 0, 'http-500': 2, cut: 1, 'http-400': 1, silent: 1 });
    expect(Object.fromEntries(server.callsByLastUserMessage)).toEqual({ one: 2, two: 1, three: 1, four: 1 });
    const stats = await (await fetch(server.url.replace(/\/v1$/, '/_mock/stats'))).json();
    expect(stats).toEqual({
      requests: 5,
      outcomes: { ok: 0, 'http-500': 2, cut: 1, 'http-400': 1, silent: 1 },
      calls_by_last_user_message: { one: 2, two: 1, three: 1, four: 1 },
    });
  });

  it('answers normally outside its share and records nothing unless asked', async () => {
    server = await startLlmMockServer({ faultRate: 0, responseTokens: 4 });
    const answer = await complete(server.url, 'hello');
    expect(answer).toMatchObject({ status: 200, ending: 'done' });
    expect(answer.text).toContain('[DONE]');
    expect(server.outcomes.ok).toBe(1);
    expect(server.callsByLastUserMessage.size).toBe(0);
  });
});
