/**
 * The agent: everything that runs on a box between the config and the kernel. It orchestrates
 * `config/` (what the fleet should be) and `datapath/` (what the kernel and the sleeve do).
 *
 * What it holds:
 * - `agent.ts`          lifecycle: start, stop, reconcile; owns the parts and sequences them
 * - `reload.ts`         reading the config for this box, refusing a bad one, applying a good one
 *                       in order (`applyConfigDiff`), watching the config and password files
 * - `config_diff.ts`    what a reload changes (pure)
 * - `pair_datapath.ts`  the per-pair datapath negotiation (caps, VXLAN heartbeats, probe
 *                       results, the decider's verdict) on an injectable `Clock` (`clock.ts`)
 * - `datapath_choice.ts` the pure decisions that negotiation applies
 * - `vxlan_heartbeat.ts` the heartbeat datagrams through the fast datapath
 * - `desired_host.ts`   the kernel state this box should have, its observed bridge MACs (pure)
 * - `workload_plan.ts`  this box's workloads and routes, resolved for the host (pure)
 * - `policy_resolve.ts` network policy resolved to addresses over the whole fleet (pure)
 * - `host_reconcile.ts` one reconcile: observe (workload namespaces too), plan, apply, and the
 *                       state of each workload
 * - `policy_status.ts`  policy in status: what each policy selects, its rule counters (pure)
 * - `sleeve_peer.ts`    the sleeve's view of a pair (pure)
 * - `peer_endpoints.ts` where the sleeve sends to each peer (learned from the control connection
 *                       and authenticated datagrams), and which pairs get NAT keepalives (#15)
 * - `status.ts`         the typed `AgentStatus`, built by a pure function, and its shape check
 * - `loop_lag.ts`       how late this process's timers run: handshake deadlines stretch and
 *                       relays hold back while it is high (handed to control/ and relay/ as a
 *                       reading function)
 *
 * Subrooms: `control/` (the session layer), `check/` (the preflight), `ops/` (control socket,
 * metrics, logging, run paths), `cli/` (the command line, on top of everything).
 *
 * What it may import: `config/`, `datapath/` and its subrooms. Nothing below imports `agent/`
 * top level, except `ops/` (the status types) and `cli/`.
 *
 * @module
 */

export { Agent, type AgentOptions } from "./agent.ts";
export type {
  AgentStatus,
  NetworkView,
  PeerView,
  ReconcileOutcome,
  ReloadOutcome,
} from "./status.ts";
export { assertAgentStatus, buildStatus } from "./status.ts";
export { type Clock, systemClock } from "./clock.ts";
export { PAIR_TIMING, PairDatapaths, type PairMessage, type PairState } from "./pair_datapath.ts";
export { ConfigReloader, ConfigWatcher, type LoadedConfig, loadForPeer } from "./reload.ts";
export { type ConfigDiff, diffConfigs } from "./config_diff.ts";
export {
  type FastdpCapability,
  localFastdpCapability,
  type PairDatapath,
} from "./datapath_choice.ts";
export { bridgeMacs, buildDesiredHost, networksOf, overlayMtu } from "./desired_host.ts";
export { sleevePeerOf } from "./sleeve_peer.ts";
export { routesOnBox, workloadsOnBox } from "./workload_plan.ts";
export { type ResolvedPolicy, resolvePolicies } from "./policy_resolve.ts";
export { type HostReconcile, reconcileHost, type WorkloadState } from "./host_reconcile.ts";
export { type PolicyStatus, policyStatus, type PolicyView } from "./policy_status.ts";
