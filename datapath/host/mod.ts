/**
 * The host reconciler for both datapaths: what the box should have (desired.ts: networks,
 * ESP pairs, workloads, routes, policy, all resolved to plain addresses and names), what it has
 * (observe.ts), the pure planner between them (plan.ts, split by object kind: plan_links,
 * plan_fdb, plan_esp, plan_workloads, plan_nft), the nft rulesets (isolation_rules: underlay
 * guard, isolation, routes; plan_nft: the VXLAN guard; policy_rules: network policy;
 * nft_table: whole-table transactions) and the thin applier that runs a plan as batched
 * `ip`/`bridge`/`nft` processes (apply.ts).
 *
 * The agent needs: `observeHost` (`observeLinks` for its links alone), `planHost` (or
 * `planHostDetailed` for per-workload results), `applyChanges` (reconcile), `teardownPlan`
 * (down), `renderPlan` (show a plan) and `readPolicyCounters` (status, metrics).
 *
 * May import: `../` leaf modules (command, link names, MTU) and `config/` types. Never `agent/`.
 *
 * @module
 */

export type {
  DesiredEspPair,
  DesiredHost,
  DesiredNetwork,
  DesiredPolicy,
  DesiredPolicyPeer,
  DesiredPolicyPort,
  DesiredPolicyRule,
  DesiredRoute,
  DesiredWorkload,
  ObservedHost,
} from "./desired.ts";
export {
  type Change,
  type HostPlan,
  planHost,
  planHostDetailed,
  renderPlan,
  reqidFor,
  teardownPlan,
  type WorkloadResult,
} from "./plan.ts";
export { observeHost, observeLinks, parseXfrmPolicies, parseXfrmStates } from "./observe.ts";
export { applyChanges, type ApplyResult } from "./apply.ts";
export { isolationRuleset } from "./isolation_rules.ts";
export { ISOLATION_TABLE, NFT_TABLE, POLICY_TABLE } from "./nft_table.ts";
export { parsePolicyCounters, type PolicyCounter, readPolicyCounters } from "./policy_counters.ts";
export { ESP_SA_HARD_LIFETIME_S } from "./xfrm_args.ts";
