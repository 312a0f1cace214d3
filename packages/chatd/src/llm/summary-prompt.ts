/**
 * What a summary call sends: a fixed instruction, and a transcript of the older messages (with the
 * summary before, when there is one). The builtin models recognise the instruction and answer
 * deterministically (see `builtin-model.ts`).
 */

/** The system prompt of every summary call. */
export const SUMMARY_INSTRUCTION =
  'You summarise the earlier part of a conversation between a user and an AI assistant, so that the ' +
  'conversation can go on without those messages. Write a concise summary of the transcript you are ' +
  'given: what the user wants, the facts, names, numbers, decisions, code and conclusions it contains, ' +
  'and the questions still open. If a previous summary is given, merge it into yours. Write in the ' +
  'language of the conversation, without a preamble, and do not address the user.';

/** A message of the transcript. */
export interface TranscriptMessage {
  readonly role: 'user' | 'assistant';
  readonly content: string;
}

/**
 * The transcript a summary call receives as its one user message: the previous summary in
 * `<previous-summary>`, then each message as `[role] content`, separated by blank lines.
 */
export function summaryTranscript(
  previousSummary: string | null,
  messages: readonly TranscriptMessage[],
): string {
  const parts: string[] = [];
  if (previousSummary !== null) parts.push(`<previous-summary>\n${previousSummary}\n</previous-summary>`);
  parts.push(`<transcript>\n${messages.map((m) => `[${m.role}] ${m.content}`).join('\n\n')}\n</transcript>`);
  return parts.join('\n\n');
}

/** Tokens the transcript adds per message besides the message's own tokens (`[role] `, blank line). */
export const TRANSCRIPT_TOKENS_PER_MESSAGE = 4;
/** Tokens of the transcript's wrapping (tags, previous-summary tags). */
export const TRANSCRIPT_WRAPPER_TOKENS = 24;
