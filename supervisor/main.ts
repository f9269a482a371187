// The daemon's entry point (dist/supervisor.js loads this): one per host. Configuration is validated first
// (exit 78 naming each bad variable), then the supervision tree starts; signals stop it in order.
import { loadConfigOrExit } from '../src/config/load.js';
import { describeError } from '../src/errors.js';
import { createLogger, flushLogsSync, setRootLogger } from '../src/log/logger.js';
import { startDaemon } from './daemon.js';

const config = loadConfigOrExit();
// Each component adds its own `component` field; the root logger has none, so no line carries it twice.
const root = createLogger({ level: config.logLevel });
setRootLogger(root);
const log = root.child({ component: 'supervisor' });

process.on('uncaughtException', (err) => {
  log.fatal({ event: 'uncaught_exception', err: describeError(err) }, 'uncaught exception in the supervisor; exiting');
  flushLogsSync();
  process.exit(1);
});

try {
  await startDaemon(config, {
    log: root,
    exit: (code) => {
      flushLogsSync();
      process.exit(code);
    },
  });
} catch (err) {
  log.fatal({ event: 'start_failed', err: describeError(err) }, 'notifyd could not start');
  flushLogsSync();
  process.exit(1);
}
