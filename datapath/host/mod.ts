/**
 * The host reconciler for both datapaths: what the box should have (desired.ts), what it has
 * (observe.ts), the pure planner between them (plan.ts), the nft isolation ruleset and the thin
 * applier that runs a plan as batched `ip`/`bridge`/`nft` processes (apply.ts).
 *
 * May import: `../` leaf modules (command, link names, MTU) and `config/` types. Never `agent/`.
 *
 * @module
 */

export type { DesiredEspPair, DesiredHost, DesiredNetwork, ObservedHost } from "./desired.ts";
export {
  type Change,
  NFT_TABLE,
  nftGuard,
  planHost,
  renderPlan,
  reqidFor,
  teardownPlan,
} from "./plan.ts";
export { normaliseNft, observeHost, parseXfrmPolicies, parseXfrmStates } from "./observe.ts";
export { applyChanges, type ApplyResult } from "./apply.ts";
export { isolationRuleset } from "./isolation_rules.ts";
