// pino JSON logging for every thread. Context (component, enterprise_id, notification_id) goes in child loggers;
// payloads, recipients, keys and passwords never reach a log line: they are redacted by path as a second fence,
// and the code never passes them in the first place. Lines are written synchronously in small batches (a 4 KB
// buffer, flushed at least every 100 ms), so no write is ever in flight: flushLogsSync() before any exit — main
// thread or worker thread, orderly or fatal — puts every line logged so far on stdout.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Field paths that must never be written, whatever a caller passes. */
export const REDACTED_PATHS: readonly string[] = [
  'payload',
  '*.payload',
  'recipients',
  '*.recipients',
  'to',
  '*.to',
  'secretKey',
  '*.secretKey',
  'apiKey',
  '*.apiKey',
  'apikey',
  '*.apikey',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'serviceRoleKey',
  '*.serviceRoleKey',
  'databaseUrl',
  '*.databaseUrl',
  'redisUrl',
  '*.redisUrl',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
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
  // sync: every write is a writeSync of whole lines, never one in flight; periodicFlush writes the buffer out.
  const destination = pino.destination({ fd: 1, sync: true, minLength: 4096, periodicFlush: 100 });
  if (destinations.size === 0) process.once('exit', flushLogsSync); // any exit path this thread takes
  destinations.add(destination);
  return pino(options, destination);
}

const destinations = new Set<ReturnType<typeof pino.destination>>();

/**
 * Writes every buffered line of this thread to stdout now (synchronously: the destinations are sync, so flush()
 * is a writeSync), safe anywhere, including right before process.exit. No fsync: stdout is a pipe or a terminal.
 */
export function flushLogsSync(): void {
  for (const d of destinations) {
    try {
      d.flush();
    } catch {
      // stdout closed (the reader went away): nothing more can be written
    }
  }
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
