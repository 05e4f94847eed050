/**
 * Host reconciler and fast datapath: desired/observed state, the pure planner, the thin
 * applier, ESP key derivation.
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
export { deriveEspDirection, deriveEspKeys, type EspSessionInput } from "./esp_keys.ts";
