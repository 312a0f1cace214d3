#!/usr/bin/env node
import { ChatdError } from '../errors.js';
import { buildProgram } from './program.js';

/**
 * The `chatd` entry point. Errors chatd raises on purpose print their message only (they say what to
 * do); anything else prints its message, and its stack when CHATD_DEBUG is set.
 */
async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`chatd: ${message}\n`);
    if (!(error instanceof ChatdError) && process.env.CHATD_DEBUG)
      process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = 1;
  }
}

await main();
