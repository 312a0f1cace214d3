import { describeError } from '../ui/describe-error';

/** What a page that failed to render shows: why, and a way to load the app again. */
export function PageError({ error }: { error: unknown }) {
  return (
    <section className="page">
      <h1>Something went wrong</h1>
      <p className="notice notice-error" role="alert">
        {describeError(error)}
      </p>
      <button type="button" className="button-primary" onClick={() => window.location.reload()}>
        Reload the page
      </button>
    </section>
  );
}
