// The memory settings supervisor/launch.ts gives the daemon process at start, apart from launch.ts itself, whose
// import replaces the process: tests and tools read them from here.
import { setFlagsFromString } from 'node:v8';

export const SEMI_SPACE_FLAG = '--max-semi-space-size';
/** the main thread's young generation (MB per semi-space) */
export const MAIN_SEMI_SPACE_MB = 4;
/** glibc malloc arenas (MALLOC_ARENA_MAX) unless the environment names its own */
export const MALLOC_ARENAS = '2';

export function hasSemiSpaceFlag(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some(
    (a) => a === SEMI_SPACE_FLAG || a.startsWith(`${SEMI_SPACE_FLAG}=`),
  );
}

/**
 * V8 flags are the process's: a semi-space flag would also override every worker thread's
 * resourceLimits.maxYoungGenerationSizeMb (DAEMON_THREAD_YOUNG_MB). Called once the main thread's heap exists, it
 * leaves the flag to the main thread and lets each worker thread created afterwards size its own young generation.
 */
export function releaseSemiSpaceFlag(): void {
  setFlagsFromString(`${SEMI_SPACE_FLAG}=0`);
}
