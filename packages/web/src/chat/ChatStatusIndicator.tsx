import type { ChatStatus, StreamState } from '../api/types';

const STATUS_TEXT: Record<ChatStatus, string> = {
  pending: 'Waiting for the model…',
  running: 'Answering…',
  waiting: 'Ready',
  error: 'The last turn failed',
};

/** The chat's status and the stream connection's, announced politely as they change. */
export function ChatStatusIndicator({
  status,
  streamState,
}: {
  status: ChatStatus;
  streamState: StreamState;
}) {
  const connection =
    streamState === 'reconnecting'
      ? 'Connection lost, reconnecting…'
      : streamState === 'connecting'
        ? 'Connecting…'
        : streamState === 'closed'
          ? 'Not receiving updates'
          : undefined;
  return (
    <p className={`chat-status chat-status-${status}`} role="status" aria-live="polite">
      <span className="status-dot" aria-hidden="true" />
      <span>{STATUS_TEXT[status]}</span>
      {connection && <span className="chat-connection"> · {connection}</span>}
    </p>
  );
}
