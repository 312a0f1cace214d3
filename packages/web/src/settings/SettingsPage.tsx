import { PageTitle } from '../ui/PageTitle';
import { ApiTokensSection } from './ApiTokensSection';
import { ChangePasswordForm } from './ChangePasswordForm';
import { PersonalInstructionsForm } from './PersonalInstructionsForm';

/** The logged-in person's settings. Lazy-loaded (default export). */
export default function SettingsPage() {
  return (
    <section className="page">
      <PageTitle title="Settings" />
      <h1>Settings</h1>
      <PersonalInstructionsForm />
      <ChangePasswordForm />
      <ApiTokensSection />
    </section>
  );
}
