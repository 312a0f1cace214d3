const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const number = new Intl.NumberFormat();

/** A timestamp for people (`—` when there is none); `seconds` for ones that change every few seconds. */
export function formatDateTime(iso: string | null | undefined, options: { seconds?: boolean } = {}): string {
  if (!iso) return '—';
  return (options.seconds ? dateTimeSeconds : dateTime).format(new Date(iso));
}

/** How long ago a timestamp was, in seconds or minutes ("4 s ago"). */
export function formatAge(iso: string, now: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

/** A count with thousands separators. */
export function formatCount(value: number): string {
  return number.format(value);
}
