/** A provider call's own abort, linked to the signal of the turn (or call) it serves: see {@link linkAbort}. */
export interface LinkedAbort {
  /** Aborted when the parent signal aborts (with its reason), or by the call's owner. */
  readonly controller: AbortController;
  /**
   * Rejects with the abort reason once {@link controller} aborts; never resolves. Raced against a
   * provider's promise, it ends the wait at the abort even when the provider does not pass the signal
   * on to its request or stream. Its rejection is handled, so it may be left unraced.
   */
  readonly abandoned: Promise<never>;
  /** Unlinks it from the parent signal (call it when the call is over). */
  unlink(): void;
}

/**
 * A controller for one provider call, linked to `parent`: a failed attempt can be aborted on its own while
 * the turn goes on, and the turn's abort reaches every attempt. `onAbort` runs once at the abort (after
 * {@link LinkedAbort.abandoned} rejected), for what must stop at once, such as a pending read.
 */
export function linkAbort(parent: AbortSignal, onAbort?: () => void): LinkedAbort {
  const controller = new AbortController();
  const forwardAbort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', forwardAbort, { once: true });
  const abandoned = new Promise<never>((_, reject) => {
    controller.signal.addEventListener(
      'abort',
      () => {
        reject(controller.signal.reason);
        onAbort?.();
      },
      { once: true },
    );
  });
  abandoned.catch(() => {});
  // A parent aborted already fires no event: the call is over before it starts.
  if (parent.aborted) controller.abort(parent.reason);
  return { controller, abandoned, unlink: () => parent.removeEventListener('abort', forwardAbort) };
}
