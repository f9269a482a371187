// The daemon's first step (dist/supervisor.js loads this): gives the main thread a small young generation, as
// the worker threads get one from DAEMON_THREAD_YOUNG_MB, then loads the root supervisor (main.ts). V8 reads
// --max-semi-space-size only when the process starts, and its default lets the main thread's young generation
// grow to ~40 MB under 1,000 enterprises' status traffic; so, unless the flag is already given (on the command
// line or in NODE_OPTIONS), the process replaces itself with the same command plus the flag (process.execve:
// same pid, same stdio and signals, no second process). Where execve is missing or fails, it runs as it is.
const FLAG = '--max-semi-space-size';
export const MAIN_SEMI_SPACE_MB = 4;

export function hasSemiSpaceFlag(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((a) => a === FLAG || a.startsWith(`${FLAG}=`));
}

if (!hasSemiSpaceFlag(process.execArgv, process.env['NODE_OPTIONS']) && typeof process.execve === 'function') {
  try {
    const args = [process.execPath, `${FLAG}=${MAIN_SEMI_SPACE_MB}`, ...process.execArgv, ...process.argv.slice(1)];
    process.execve(process.execPath, args, process.env);
  } catch {
    // not replaced (a platform without execve, a sandbox refusing it): start with V8's default
  }
}
await import('./main.js');
