// The actor runtime's public surface, in one import: supervision tree, thread hosts, actor contract, status.
export { defineActor, type Actor, type ActorContext, type ActorFactory, type SetStatusOptions } from './actor.js';
export { BackoffTracker, DEFAULT_BACKOFF, backoffDelay, resolveBackoff } from './backoff.js';
export { HostPool, type HostPoolOptions } from './host-pool.js';
export { DEFAULT_INTENSITY, RestartWindow, type IntensityPolicy } from './intensity.js';
export {
  ShutdownCoordinator,
  type ShutdownHook,
  type ShutdownOptions,
  type SignalSource,
  type StoppableRoot,
} from './shutdown.js';
export {
  StatusRegistry,
  worstHealth,
  type StatusChange,
  type StatusListener,
  type StatusSummary,
} from './status-registry.js';
export {
  Supervisor,
  type ChildInfo,
  type ChildState,
  type StopReport,
  type Strategy,
  type SupervisorOptions,
  type SupervisorState,
} from './supervisor.js';
export { onShared, sharedValue } from './shared.js';
export { ThreadHost, type ActorRef, type HostState, type ThreadHostOptions } from './thread-host.js';
export type {
  ActorSpec,
  ActorStatus,
  BackoffPolicy,
  ChildExit,
  ChildRun,
  ChildSpec,
  ChildStartContext,
  ChildType,
  ExitReason,
  Health,
  RestartType,
} from './types.js';
