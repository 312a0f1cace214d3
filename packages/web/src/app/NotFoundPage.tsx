import { Link } from 'wouter';
import { PageTitle } from '../ui/PageTitle';

/** What an unknown address shows. */
export function NotFoundPage() {
  return (
    <section className="page">
      <PageTitle title="Page not found" />
      <h1>Page not found</h1>
      <p>
        Nothing lives at this address. <Link href="/">Start a new chat</Link>.
      </p>
    </section>
  );
}
