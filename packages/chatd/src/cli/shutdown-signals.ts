import { constants as osConstants } from 'node:os';

/** A listener for the first SIGINT or SIGTERM, from {@link onShutdownSignal}. */
export interface ShutdownSignals {
  /** The status to exit with after a clean stop: 128 + the first signal's number (130 for SIGINT). */
  readonly exitCode: number;
  /** Stops listening. */
  remove(): void;
}

/**
 * Calls `onFirst` on the first SIGINT or SIGTERM, for a clean stop. A second one exits at once, with
 * `chatd: second SIGINT, exiting without <what the clean stop does>` on stderr and the status of that
 * signal (128 + its number: 130 for SIGINT, 143 for SIGTERM).
 */
export function onShutdownSignal(
  options: { command: string; skipped: string },
  onFirst: (signal: NodeJS.Signals) => void,
): ShutdownSignals {
  let exitCode = 130;
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    exitCode = 128 + (osConstants.signals[signal] ?? 2);
    if (received) {
      process.stderr.write(`${options.command}: second ${signal}, exiting without ${options.skipped}\n`);
      process.exit(exitCode);
    }
    received = true;
    onFirst(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get exitCode() {
      return exitCode;
    },
    remove() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
