import { getUserPrompt, setUserPrompt } from '../api/account';
import { PromptForm } from '../ui/PromptForm';

/** The personal instructions every chat of this person starts with. */
export function PersonalInstructionsForm() {
  return (
    <section className="card">
      <h2>Personal instructions</h2>
      <p className="muted">Sent to the model with every chat of yours (at most 128 KiB).</p>
      <PromptForm
        label="Personal instructions"
        saveLabel="Save instructions"
        rows={6}
        load={getUserPrompt}
        store={setUserPrompt}
      />
    </section>
  );
}
