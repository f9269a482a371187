// The daemon's entry point (dist/supervisor.js loads this): configuration, then the root supervision tree.
import { loadConfigOrExit } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';

const config = loadConfigOrExit();
const log = createLogger({ level: config.logLevel, base: { component: 'supervisor' } });
log.info({ event: 'config_loaded', enterprises: config.enterpriseIds?.length ?? 'all-enabled' }, 'configuration valid');
