// The daemon's first step (dist/supervisor.js loads this): fixes two memory settings that only take effect when the
// process starts, then loads the root supervisor (main.ts).
// - --max-semi-space-size: the main thread gets a small young generation (V8's default lets it grow to ~40 MB under
//   1,000 enterprises' status traffic). V8's flags are the process's, so once the main heap exists the flag is
//   released: worker threads, created later, size theirs from DAEMON_THREAD_YOUNG_MB (resourceLimits).
// - MALLOC_ARENA_MAX=2: glibc gives each thread that mallocs its own arena (up to 8 per core), and freed memory
//   stays in each; with five threads, two arenas measured about 5 MB less RSS for 1,000 enterprises (medians of 5
//   alternating runs: 286 against 291 MB; run to run the figure moves by ±10 MB).
// Unless both are already given (the flag on the command line or in NODE_OPTIONS, the variable in the environment:
// an operator's value wins), the process replaces itself with the same command plus what is missing
// (process.execve: same pid, same stdio and signals, no second process). Where execve is missing or fails, it runs
// as it is.
import {
  hasSemiSpaceFlag,
  MAIN_SEMI_SPACE_MB,
  MALLOC_ARENAS,
  releaseSemiSpaceFlag,
  SEMI_SPACE_FLAG,
} from './launch-settings.js';

const hasFlag = hasSemiSpaceFlag(process.execArgv, process.env['NODE_OPTIONS']);
const hasArenas = (process.env['MALLOC_ARENA_MAX'] ?? '') !== '';
if ((!hasFlag || !hasArenas) && typeof process.execve === 'function') {
  try {
    const flags = hasFlag ? [] : [`${SEMI_SPACE_FLAG}=${MAIN_SEMI_SPACE_MB}`];
    const args = [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)];
    process.execve(process.execPath, args, {
      ...process.env,
      MALLOC_ARENA_MAX: process.env['MALLOC_ARENA_MAX'] || MALLOC_ARENAS,
    });
  } catch {
    // not replaced (a platform without execve, a sandbox refusing it): start with the defaults
  }
}
// the flag sized the main thread's heap; worker threads, created later, take DAEMON_THREAD_YOUNG_MB
releaseSemiSpaceFlag();
await import('./main.js');
