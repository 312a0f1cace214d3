import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

/** Paths pino replaces with "[redacted]": tokens, API keys, passwords and auth headers, wherever they sit. */
export const REDACTED_PATHS: readonly string[] = Object.freeze([
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'current_password',
  'csrfToken',
  'csrf_token',
  'cookieValue',
  'headers.authorization',
  'authorization',
  'token',
  'apiKey',
  'api_key',
  'password',
  'secretsKey',
  'postgresUrl',
  '*.token',
  '*.apiKey',
  '*.api_key',
  '*.password',
  '*.current_password',
  '*.csrfToken',
  '*.csrf_token',
  '*.cookieValue',
  '*.authorization',
  '*.secretsKey',
  '*.postgresUrl',
]);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** pino options shared by the process logger and Fastify's request logger. */
export function loggerOptions(level: LogLevel): LoggerOptions {
  return {
    level,
    base: { pid: process.pid },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  };
}

/** chatd's logger: JSON lines (to stderr unless another destination is given), secrets redacted. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(loggerOptions(level), destination ?? pino.destination({ fd: 2, sync: false }));
}

export type { Logger };
