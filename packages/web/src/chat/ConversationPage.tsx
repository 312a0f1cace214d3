import { useCallback, useEffect } from 'react';
import { useLocation } from 'wouter';
import { listModelConfigs } from '../api/account';
import { deleteChat, editMessage, renameChat, runChatAction, sendMessage } from '../api/chats';
import type { ChatStreamEvent, ModelConfig } from '../api/types';
import { ErrorNotice } from '../ui/ErrorNotice';
import { useAction } from '../ui/use-action';
import { useAsync } from '../ui/use-async';
import { ChatHeader } from './ChatHeader';
import { ChatStatusIndicator } from './ChatStatusIndicator';
import { Composer } from './Composer';
import { useChatList } from './chat-list-context';
import { MessageLog } from './MessageLog';
import { QueuedMessages } from './QueuedMessages';
import { useConversation } from './use-conversation';

/** The name of a chat's model config; a chat without one uses the default. */
function modelNameOf(models: readonly ModelConfig[], id: string | null): string | undefined {
  return models.find((model) => (id === null ? model.is_default : model.id === id))?.display_name;
}

/** One chat: its messages, the live answer, the composer and the chat's actions. */
export function ConversationPage({ chatId }: { chatId: string }) {
  const [, navigate] = useLocation();
  const chatList = useChatList();
  const onEvent = useCallback(
    (event: ChatStreamEvent) => {
      if (event.type === 'deleted') chatList.remove(chatId);
      else if (event.type === 'message' && event.message.role === 'user') chatList.moveToTop(chatId);
    },
    [chatList.remove, chatList.moveToTop, chatId],
  );
  const conversation = useConversation(chatId, onEvent);
  const models = useAsync(listModelConfigs);
  const { chat, messages, queued, streamingText, streamState, streamError, deleted, olderBeforeId } =
    conversation.state;
  // The one place the chat list learns this chat's title and status: from the chat the page shows,
  // whether it came with the page's load (a title or status that changed before the stream connected
  // arrives that way, not as an event; the list may hold the copy the chat was created with), a stream
  // event or a rename.
  const { patch } = chatList;
  const loadedTitle = chat?.title;
  const loadedStatus = chat?.status;
  useEffect(() => {
    if (loadedTitle !== undefined && loadedStatus !== undefined)
      patch(chatId, { title: loadedTitle, status: loadedStatus });
  }, [patch, chatId, loadedTitle, loadedStatus]);

  const action = useAction(async (run: () => Promise<unknown>) => run());
  const send = useAction(async (content: string) => {
    const result = await sendMessage(chatId, content);
    if (result.queued) conversation.queued(result.queued_message);
  });

  if (conversation.loadError)
    return (
      <section className="page">
        <h1>Chat</h1>
        <ErrorNotice error={conversation.loadError} />
      </section>
    );
  if (deleted)
    return (
      <section className="page">
        <h1>Chat deleted</h1>
        <p>This chat was deleted.</p>
      </section>
    );
  if (!chat)
    return (
      <section className="page">
        <h1>Chat</h1>
        <p role="status">Loading…</p>
      </section>
    );

  const turnActive = chat.status === 'pending' || chat.status === 'running';

  return (
    <section className="conversation">
      <ChatHeader
        chat={chat}
        modelName={modelNameOf(models.data ?? [], chat.model_config_id)}
        busy={action.busy}
        onRename={(title) =>
          action.run(async () => {
            const renamed = await renameChat(chatId, title);
            conversation.chatChanged(renamed);
          })
        }
        onArchive={(archived) =>
          void action.run(async () => {
            await runChatAction(chatId, archived ? 'archive' : 'unarchive');
            conversation.chatChanged({ ...chat, archived });
            chatList.remove(chatId);
          })
        }
        onCompact={() => void action.run(() => runChatAction(chatId, 'compact'))}
        onDelete={() =>
          void action.run(async () => {
            await deleteChat(chatId);
            chatList.remove(chatId);
            navigate('/');
          })
        }
      />
      <ErrorNotice error={action.error} />
      <MessageLog
        messages={messages}
        status={chat.status}
        streamingText={streamingText}
        hasOlder={olderBeforeId !== null}
        loadingOlder={conversation.loadingOlder}
        busy={action.busy}
        onLoadOlder={() => void action.run(conversation.loadOlder)}
        onEdit={(messageId, content) => action.run(() => editMessage(chatId, messageId, content))}
        onRegenerate={() => void action.run(() => runChatAction(chatId, 'regenerate'))}
      />
      {chat.status === 'error' && (
        <div className="notice notice-error" role="alert">
          <p>{chat.last_error ?? streamError ?? 'The answer failed.'}</p>
          <button
            type="button"
            className="button-small"
            disabled={action.busy}
            onClick={() => void action.run(() => runChatAction(chatId, 'retry'))}
          >
            Retry
          </button>
        </div>
      )}
      <QueuedMessages messages={queued} />
      <div className="conversation-footer">
        <ChatStatusIndicator status={chat.status} streamState={streamState} />
        <ErrorNotice error={send.error} />
        <Composer autoFocus onSend={send.run} busy={send.busy}>
          {turnActive && (
            <button
              type="button"
              className="button-danger"
              disabled={action.busy}
              onClick={() => void action.run(() => runChatAction(chatId, 'interrupt'))}
            >
              Stop
            </button>
          )}
        </Composer>
      </div>
    </section>
  );
}
