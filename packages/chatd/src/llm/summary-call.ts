import type { JsonObject } from '../db/rows.js';
import { type ChatTurnResult, runChatTurn, type TurnOptions } from './chat-turn.js';
import type { ProviderConnection } from './language-model-factory.js';
import { SUMMARY_INSTRUCTION, summaryTranscript, type TranscriptMessage } from './summary-prompt.js';

/**
 * The summarisation call of a compaction: the chat's own provider and model, asked with a fixed
 * instruction to summarise a transcript of the older messages (see `summary-prompt.ts`).
 */

/** One summary call. */
export interface SummaryCallRequest {
  readonly provider: ProviderConnection;
  readonly model: string;
  /** The model config's options (temperature and the like apply to the summary too). */
  readonly options: JsonObject;
  readonly previousSummary: string | null;
  readonly messages: readonly TranscriptMessage[];
  /** The summary's output limit. */
  readonly maxOutputTokens: number;
  /** The turn's signal: an interrupt cancels the summary call too. */
  readonly signal: AbortSignal;
}

/**
 * Asks the model for a summary, with the turn's retry policy and idle timeout (through
 * {@link runChatTurn}; the text is not streamed anywhere). Rejects as `runChatTurn` does.
 */
export function summariseConversation(
  request: SummaryCallRequest,
  options: TurnOptions = {},
): Promise<ChatTurnResult> {
  return runChatTurn(
    {
      provider: request.provider,
      model: request.model,
      options: request.options,
      maxOutputTokens: request.maxOutputTokens,
      system: SUMMARY_INSTRUCTION,
      messages: [{ role: 'user', content: summaryTranscript(request.previousSummary, request.messages) }],
      signal: request.signal,
      onTextDelta: () => {},
    },
    options,
  );
}
