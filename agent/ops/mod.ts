/**
 * Local operations: how an operator and a monitoring system reach a running agent.
 *
 * What it holds:
 * - `control_socket.ts`   the root-only Unix socket: one JSON request, one typed JSON reply;
 *                         the server and the client (`controlRequest` with a decoder)
 * - `control_dispatch.ts` which agent operation answers which request
 * - `metrics.ts`          Prometheus text from the status, and its tiny HTTP server
 * - `log.ts`              levelled text/JSON log lines, and rate limiting for network input
 * - `run_paths.ts`        where an agent keeps its socket and pid file
 * - `v8_flags.ts`         the V8 flags every agent process runs with (memory)
 *
 * What it may import: nothing of ours except the status types from `agent/status.ts` (the
 * agent hands in its operations; this room never reaches into the agent).
 *
 * @module
 */

export {
  type ControlHandler,
  type ControlReplies,
  type ControlReply,
  type ControlRequest,
  controlRequest,
  controlSocketAlive,
  ControlSocketServer,
  decodePlanReply,
  parseControlRequest,
  type PlanReply,
} from "./control_socket.ts";
export { type AgentOperations, controlDispatcher } from "./control_dispatch.ts";
export { MetricsServer, renderMetrics } from "./metrics.ts";
export {
  type LogFields,
  type LogFormat,
  Logger,
  type LogLevel,
  type LogSink,
  RateLimitedLog,
} from "./log.ts";
export {
  DEFAULT_CONFIG_PATH,
  DEFAULT_RUN_DIR,
  resolveRunDir,
  type RunPaths,
  runPaths,
} from "./run_paths.ts";
