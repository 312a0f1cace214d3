import { describeError } from './describe-error';

/** An error as an alert (announced by screen readers); nothing when there is none. */
export function ErrorNotice({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p className="notice notice-error" role="alert">
      {describeError(error)}
    </p>
  );
}
