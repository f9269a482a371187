// pino JSON logging for every thread. Context (component, enterprise_id, notification_id) goes in child loggers;
// payloads, recipients, keys and passwords never reach a log line: they are redacted by path as a second fence,
// and the code never passes them in the first place.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Field paths that must never be written, whatever a caller passes. */
export const REDACTED_PATHS: readonly string[] = [
  'payload', '*.payload', 'recipients', '*.recipients', 'to', '*.to',
  'secretKey', '*.secretKey', 'apiKey', '*.apiKey', 'apikey', '*.apikey', 'password', '*.password',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'serviceRoleKey', '*.serviceRoleKey', 'databaseUrl', '*.databaseUrl', 'redisUrl', '*.redisUrl',
  'token', '*.token', 'access_token', '*.access_token',
];

export interface LoggerSettings {
  level?: string;
  /** Where lines go; defaults to stdout (fd 1). Tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream | pino.DestinationStream;
  base?: Record<string, unknown>;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? process.env['DAEMON_LOG_LEVEL'] ?? 'info',
    base: { pid: process.pid, ...(settings.base ?? {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  if (settings.destination !== undefined) return pino(options, settings.destination as pino.DestinationStream);
  return pino(options, pino.destination({ fd: 1, sync: false }));
}

let rootLogger: Logger | undefined;

/** The process-wide (per thread) logger; created on first use with the configured level. */
export function rootLog(): Logger {
  rootLogger ??= createLogger();
  return rootLogger;
}

/** Replaces the per-thread root logger (tests capture lines this way; threads set their level from config). */
export function setRootLogger(logger: Logger): void {
  rootLogger = logger;
}
