import { useEffect, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { listModelConfigs } from '../api/account';
import { createChat } from '../api/chats';
import { useUser } from '../session/session-context';
import { ErrorNotice } from '../ui/ErrorNotice';
import { PageTitle } from '../ui/PageTitle';
import { useAction } from '../ui/use-action';
import { useAsync } from '../ui/use-async';
import { Composer } from './Composer';
import { useChatList } from './chat-list-context';
import { ModelPicker } from './ModelPicker';

/** What a new chat may use (admins also see the disabled model configs). */
async function listEnabledModels() {
  return (await listModelConfigs()).filter((model) => model.enabled);
}

/** Starts a chat: pick a model, write the first message. */
export function NewChatPage() {
  const user = useUser();
  const [, navigate] = useLocation();
  const chatList = useChatList();
  const models = useAsync(listEnabledModels);
  const [modelId, setModelId] = useState('');
  useEffect(() => {
    const available = models.data ?? [];
    if (!available.some((model) => model.id === modelId))
      setModelId((available.find((model) => model.is_default) ?? available[0])?.id ?? '');
  }, [models.data, modelId]);
  const start = useAction(async (content: string) => {
    const chat = await createChat(content, modelId || undefined);
    chatList.upsert(chat);
    navigate(`/chats/${chat.id}`);
  });
  const noModels = models.data !== undefined && models.data.length === 0;
  return (
    <section className="page new-chat-page">
      <PageTitle title="New chat" />
      <h1>New chat</h1>
      <ErrorNotice error={models.error} />
      {noModels ? (
        <p className="notice">
          No model is available yet.{' '}
          {user.role === 'admin' ? (
            <Link href="/admin/models">Add a model configuration</Link>
          ) : (
            'Ask an administrator to add one.'
          )}
        </p>
      ) : (
        <>
          <ErrorNotice error={start.error} />
          <Composer autoFocus onSend={start.run} busy={start.busy || models.loading} sendLabel="Start chat">
            {models.data && <ModelPicker models={models.data} value={modelId} onChange={setModelId} />}
          </Composer>
        </>
      )}
    </section>
  );
}
