const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const number = new Intl.NumberFormat();

/** A timestamp for people (`—` when there is none); `seconds` for ones that change every few seconds. */
export function formatDateTime(iso: string | null | undefined, options: { seconds?: boolean } = {}): string {
  if (!iso) return '—';
  return (options.seconds ? dateTimeSeconds : dateTime).format(new Date(iso));
}

/** A count with thousands separators. */
export function formatCount(value: number): string {
  return number.format(value);
}
