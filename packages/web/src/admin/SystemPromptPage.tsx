import { getSystemPrompt, setSystemPrompt } from '../api/admin';
import { PageTitle } from '../ui/PageTitle';
import { PromptForm } from '../ui/PromptForm';

/** The deployment's system prompt, sent first in every chat. */
export function SystemPromptPage() {
  return (
    <section className="page">
      <PageTitle title="System prompt" />
      <h1>System prompt</h1>
      <p className="muted">Sent to the model first in every chat of every user.</p>
      <PromptForm
        label="System prompt"
        saveLabel="Save system prompt"
        rows={10}
        load={getSystemPrompt}
        store={setSystemPrompt}
      />
    </section>
  );
}
