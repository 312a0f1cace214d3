import { describe, expect, it } from 'vitest';
import { type AuditDatabase, type AuditInput, auditFaultRun } from '../../src/scaletest/fault-audit.js';

/** A clean run: two chats, three accepted messages, each answered once; one unacknowledged message. */
function cleanRun(): { database: AuditDatabase; input: Omit<AuditInput, 'database'> } {
  return {
    database: {
      userMessages: [
        { id: '1', chatId: 'a', content: 'a1' },
        { id: '3', chatId: 'a', content: 'a2' },
        { id: '5', chatId: 'b', content: 'b1' },
        // Sent, unacknowledged (the client sent it again as b1), committed and answered all the same.
        { id: '7', chatId: 'b', content: 'b0' },
      ],
      assistantMessages: [
        { chatId: 'a', replyTo: '1', finishReason: 'stop' },
        { chatId: 'a', replyTo: '3', finishReason: 'stop' },
        { chatId: 'b', replyTo: '5', finishReason: 'length' },
        { chatId: 'b', replyTo: '7', finishReason: 'stop' },
      ],
      queuedMessages: [],
      chats: [
        { id: 'a', status: 'waiting', turnTakeovers: 1 },
        { id: 'b', status: 'waiting', turnTakeovers: 0 },
      ],
    },
    input: {
      accepted: [
        { chatId: 'a', content: 'a1', resumes: 0 },
        { chatId: 'a', content: 'a2', resumes: 0 },
        { chatId: 'b', content: 'b1', resumes: 0 },
      ],
      callsByLastUserMessage: { a1: 1, a2: 4, b1: 1, b0: 1 },
      providerRetries: 3,
      takeoverBound: 3,
    },
  };
}

describe('auditFaultRun', () => {
  it('passes a clean run and counts what it saw', () => {
    const { database, input } = cleanRun();
    const audit = auditFaultRun({ ...input, database });
    expect(audit).toMatchObject({
      accepted: 3,
      answeredOnce: 3,
      endedInError: 0,
      lost: 0,
      answeredTwice: 0,
      unaccounted: 0,
      chatsPendingOrRunning: 0,
      providerCallsMax: 4,
      providerCallsMean: 7 / 4,
      providerCallsOverBound: 0,
      unmatchedProviderCalls: 0,
      unacknowledgedInDatabase: 1,
      turnTakeovers: { total: 1, max: 1 },
    });
    expect(audit.samples).toEqual([]);
  });

  it('finds a lost message, a second answer, a stuck chat and a message nobody answered or failed', () => {
    const { database, input } = cleanRun();
    const audit = auditFaultRun({
      ...input,
      accepted: [...input.accepted, { chatId: 'b', content: 'b2', resumes: 0 }],
      database: {
        ...database,
        // b2 is nowhere; a1 got a second answer; a2 has none.
        assistantMessages: [
          ...database.assistantMessages.filter((message) => message.replyTo !== '3'),
          { chatId: 'a', replyTo: '1', finishReason: 'stop' },
        ],
        chats: [
          { id: 'a', status: 'running', turnTakeovers: 3 },
          { id: 'b', status: 'waiting', turnTakeovers: 0 },
        ],
      },
    });
    expect(audit.lost).toBe(1);
    expect(audit.answeredTwice).toBe(1);
    // a2: no answer, no error message, no later message, no resume, and its chat is not in error.
    expect(audit.unaccounted).toBe(1);
    expect(audit.chatsPendingOrRunning).toBe(1);
    expect(audit.answeredOnce).toBe(1);
    expect(audit.samples.join('\n')).toMatch(/lost: chat b: "b2"/);
    expect(audit.samples.join('\n')).toMatch(/answered twice: user message 1: 2 answers/);
    expect(audit.samples.join('\n')).toMatch(/unaccounted: .*message 3 "a2"/);
  });

  it('counts a failed turn as visibly failed: an error message, a later message, a resume, or a chat in error', () => {
    const database: AuditDatabase = {
      userMessages: [
        { id: '1', chatId: 'a', content: 'errored' },
        { id: '2', chatId: 'a', content: 'later' },
        { id: '4', chatId: 'b', content: 'resumed' },
        { id: '6', chatId: 'c', content: 'chat in error' },
      ],
      assistantMessages: [
        { chatId: 'a', replyTo: '1', finishReason: 'error' },
        { chatId: 'a', replyTo: '2', finishReason: 'stop' },
      ],
      // Accepted while the turn ran, kept in the queue of a chat that ended in error.
      queuedMessages: [{ chatId: 'c', content: 'queued' }],
      chats: [
        { id: 'a', status: 'waiting', turnTakeovers: 0 },
        { id: 'b', status: 'waiting', turnTakeovers: 0 },
        { id: 'c', status: 'error', turnTakeovers: 3 },
      ],
    };
    const audit = auditFaultRun({
      database,
      accepted: [
        { chatId: 'a', content: 'errored', resumes: 0 },
        { chatId: 'a', content: 'later', resumes: 0 },
        { chatId: 'b', content: 'resumed', resumes: 1 },
        { chatId: 'c', content: 'chat in error', resumes: 0 },
        { chatId: 'c', content: 'queued', resumes: 0 },
      ],
      callsByLastUserMessage: { errored: 4, resumed: 12, 'chat in error': 16 },
      providerRetries: 3,
      takeoverBound: 3,
    });
    expect(audit).toMatchObject({ answeredOnce: 1, endedInError: 4, lost: 0, unaccounted: 0 });
    // 16 calls = 4 x (1 + 3 takeovers): at the bound, not over it.
    expect(audit.providerCallsOverBound).toBe(0);
    expect(audit.providerCallsMax).toBe(16);
  });

  it('fails provider calls past (1 + retries) x (1 + takeovers + resumes), and a queued message of an idle chat', () => {
    const audit = auditFaultRun({
      database: {
        userMessages: [
          { id: '1', chatId: 'a', content: 'looped' },
          { id: '2', chatId: 'a', content: 'resumed twice' },
        ],
        assistantMessages: [
          { chatId: 'a', replyTo: '1', finishReason: 'stop' },
          { chatId: 'a', replyTo: '2', finishReason: 'stop' },
        ],
        queuedMessages: [{ chatId: 'a', content: 'stuck in the queue' }],
        chats: [{ id: 'a', status: 'waiting', turnTakeovers: 0 }],
      },
      accepted: [
        { chatId: 'a', content: 'looped', resumes: 0 },
        { chatId: 'a', content: 'resumed twice', resumes: 2 },
        { chatId: 'a', content: 'stuck in the queue', resumes: 0 },
      ],
      // 17 > 4 x 4; 24 = 4 x (1 + 3 + 2) is allowed.
      callsByLastUserMessage: { looped: 17, 'resumed twice': 24, 'someone else': 2 },
      providerRetries: 3,
      takeoverBound: 3,
    });
    expect(audit.providerCallsOverBound).toBe(1);
    expect(audit.samples.join('\n')).toMatch(/message 1: 17 calls > 16/);
    expect(audit.unmatchedProviderCalls).toBe(2);
    expect(audit.unaccounted).toBe(1);
    expect(audit.samples.join('\n')).toMatch(/still queued: "stuck in the queue"/);
  });
});
