import { Link } from 'wouter';

/** What an unknown address shows. */
export function NotFoundPage() {
  return (
    <section className="page">
      <h1>Page not found</h1>
      <p>
        Nothing lives at this address. <Link href="/">Start a new chat</Link>.
      </p>
    </section>
  );
}
