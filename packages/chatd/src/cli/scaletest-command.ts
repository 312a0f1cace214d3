import { Command, Option } from 'commander';
import { formatPropagationReport, measureConfigPropagation } from '../scaletest/config-propagation.js';
import { positiveInteger } from './options.js';

/** `chatd scaletest …`: load generators and measurements. */
export function scaletestCommand(): Command {
  const scaletest = new Command('scaletest').description(
    'measure chatd: config propagation between replicas, and chat load against a mock LLM',
  );

  scaletest
    .command('config-propagation')
    .description(
      'measure how fast a config write on one replica is applied on another (two instances on a scratch database)',
    )
    .addOption(
      new Option('--writes <n>', 'sequential config writes to measure')
        .env('CHATD_SCALETEST_WRITES')
        .default(200)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option(
        '--postgres-url <url>',
        'PostgreSQL server to create the scratch database on (default: a temporary embedded PostgreSQL)',
      ).env('CHATD_POSTGRES_URL'),
    )
    .action(async (options: { writes: number; postgresUrl?: string }) => {
      const report = await measureConfigPropagation(options);
      process.stdout.write(`${formatPropagationReport(report)}\n`);
      if (report.freshReads !== report.writes) process.exitCode = 1;
    });

  return scaletest;
}
