import {
  type ScriptedLlm,
  type ScriptedReply,
  type ScriptedRequest,
  startScriptedLlm,
} from '../../../chatd/test/support/scripted-llm.js';

/** Words `w1 … wN`, then `END`: an answer whose every part is recognisable on the page. */
export function numberedWords(count: number): string[] {
  return [...Array.from({ length: count }, (_, index) => `w${index + 1} `), 'END'];
}

/**
 * An OpenAI-compatible provider on loopback that streams slowly enough to watch: a message containing
 * `slow` is answered with 30 words 120 ms apart, `long` with 300 words (time to interrupt or drop the
 * connection), `system?` with the system prompt it received; anything else, and titles, at once.
 */
export function startSlowLlm(): Promise<ScriptedLlm> {
  return startScriptedLlm((request: ScriptedRequest): ScriptedReply => {
    if (request.isTitle) return { chunks: ['A test chat'] };
    const content = request.lastUserContent;
    if (content.includes('long')) return { chunks: numberedWords(300), delayMs: 100 };
    if (content.includes('slow')) return { chunks: numberedWords(30), delayMs: 120 };
    if (content.includes('system?')) {
      const system = request.messages.find((message) => message.role === 'system');
      return { chunks: [`system prompt: ${String(system?.content ?? 'none')}`] };
    }
    return { chunks: ['Hello ', 'from ', 'the ', 'scripted ', 'model.'] };
  });
}
