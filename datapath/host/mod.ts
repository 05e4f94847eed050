/**
 * The host reconciler for both datapaths: what the box should have (desired.ts), what it has
 * (observe.ts), the pure planner between them (plan.ts, split by object kind: plan_links,
 * plan_fdb, plan_esp, plan_nft), the nft rulesets (isolation_rules, nft_table) and the thin
 * applier that runs a plan as batched `ip`/`bridge`/`nft` processes (apply.ts).
 *
 * The agent needs four calls: `observeHost`, `planHost`, `applyChanges` (reconcile) and
 * `teardownPlan` (down), plus `renderPlan` to show a plan.
 *
 * May import: `../` leaf modules (command, link names, MTU) and `config/` types. Never `agent/`.
 *
 * @module
 */

export type { DesiredEspPair, DesiredHost, DesiredNetwork, ObservedHost } from "./desired.ts";
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
export { type PolicyCounter, readPolicyCounters } from "./policy_counters.ts";
export { observeHost, parseXfrmPolicies, parseXfrmStates } from "./observe.ts";
export { applyChanges, type ApplyResult } from "./apply.ts";
export { isolationRuleset } from "./isolation_rules.ts";
export { ISOLATION_TABLE, NFT_TABLE } from "./nft_table.ts";
