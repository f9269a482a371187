// The daemon's entry point (dist/supervisor.js loads this): one per host. Configuration is validated first
// (exit 78 naming each bad variable), then the supervision tree starts; signals stop it in order.
import { loadConfigOrExit } from '../src/config/load.js';
import { describeError } from '../src/errors.js';
import { createLogger, setRootLogger } from '../src/log/logger.js';
import { startDaemon } from './daemon.js';

const config = loadConfigOrExit();
const log = createLogger({ level: config.logLevel, base: { component: 'supervisor' } });
setRootLogger(log);

process.on('uncaughtException', (err) => {
  log.fatal({ event: 'uncaught_exception', err: describeError(err) }, 'uncaught exception in the supervisor; exiting');
  log.flush();
  process.exit(1);
});

try {
  await startDaemon(config, {
    log,
    exit: (code) => {
      log.flush();
      process.exit(code);
    },
  });
} catch (err) {
  log.fatal({ event: 'start_failed', err: describeError(err) }, 'notifyd could not start');
  log.flush();
  process.exit(1);
}
