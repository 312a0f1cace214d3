import { ChatdApiError } from '../api/client';

/** A sentence for a person from anything thrown by an API call. */
export function describeError(error: unknown): string {
  if (error instanceof ChatdApiError) return error.message || `The server answered ${error.status}.`;
  if (error instanceof TypeError) return 'The server cannot be reached. Check your connection and try again.';
  if (error instanceof Error) return error.message;
  return String(error);
}
