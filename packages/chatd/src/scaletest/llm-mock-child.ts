import { startChatdChild } from './child-process.js';
import type { Cleanups } from './cleanups.js';

/** How the mock LLM child paces its answers. */
export interface LlmMockPacing {
  readonly llmLatencyMs: number;
  readonly llmChunkDelayMs: number;
  readonly llmResponseTokens: number;
}

/**
 * Starts `chatd scaletest llm-mock` as a child process paced by `pacing` (plus `extraArgs`, such as its
 * fault flags), registers its stop in `cleanups`, and resolves its base URL and process id.
 */
export async function startLlmMockChild(
  pacing: LlmMockPacing,
  cleanups: Cleanups,
  extraArgs: readonly string[] = [],
): Promise<{ url: string; pid: number | undefined }> {
  const mock = await startChatdChild(
    [
      'scaletest',
      'llm-mock',
      '--port',
      '0',
      '--latency-ms',
      String(pacing.llmLatencyMs),
      '--chunk-delay-ms',
      String(pacing.llmChunkDelayMs),
      '--response-tokens',
      String(pacing.llmResponseTokens),
      ...extraArgs,
    ],
    [/llm-mock listening at (\S+)/],
  );
  cleanups.push(() => mock.process.stop());
  return { url: mock.matches[0]![1]!, pid: mock.process.child.pid };
}
