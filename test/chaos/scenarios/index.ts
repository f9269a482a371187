// Every chaos scenario, in the order the suite runs them (the order), and the extras run only by name.
import type { Scenario } from '../harness.js';
import { baseline } from './baseline.js';
import { clusterMasterRestart } from './cluster-restart.js';
import { novuFaults, sigtermSlowNovu } from './novu.js';
import { largePayloads } from './large-payloads.js';
import { handoff, multihost } from './multihost.js';
import { postgresRestart } from './postgres-restart.js';
import { realtimeDrop, realtimeSilent } from './realtime-outage.js';
import { redisFlush } from './redis-flush.js';
import { redisRestart } from './redis-restart.js';
import { sigkill } from './sigkill.js';
import { poolWorkerCrash, realtimeThreadCrash } from './thread-crash.js';

export const SCENARIOS: readonly Scenario[] = [
  sigkill,
  realtimeThreadCrash,
  poolWorkerCrash,
  redisRestart,
  redisFlush,
  clusterMasterRestart,
  postgresRestart,
  realtimeDrop,
  realtimeSilent,
  novuFaults,
  sigtermSlowNovu,
  largePayloads,
  multihost,
  handoff,
];

/** Selectable by name (CHAOS_SCENARIOS) but not run by default. */
export const EXTRA_SCENARIOS: readonly Scenario[] = [baseline];
