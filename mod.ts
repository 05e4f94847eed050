/**
 * weave-agent as a library: load and validate a `weave.yaml`, derive the session and
 * per-purpose keys exactly as the agent does, and compute the host plan.
 *
 * ```ts
 * import { loadConfig, formatDiagnostic } from "./mod.ts";
 * const r = await loadConfig("/etc/weave/weave.yaml");
 * if (!r.ok) r.diagnostics.forEach((d) => console.error(formatDiagnostic(d)));
 * ```
 *
 * @module
 */

export type {
  Config,
  DatapathMode,
  Diagnostic,
  LoadResult,
  Member,
  Network,
  PasswordSource,
  Peer,
} from "./config/types.ts";
export {
  describeForPeer,
  findSelf,
  formatDiagnostic,
  formatDiagnostics,
  loadConfig,
  parseConfig,
  readPassword,
} from "./config/mod.ts";

/** Control-plane key derivations (X25519, SHA-256, HKDF, key confirmation). */
export {
  confirmationMac,
  deriveControlKeys,
  derivePurposeKey,
  deriveSessionKey,
  deriveSharedSecret,
  type SessionSecrets,
} from "./agent/control/session_keys.ts";

/** Sleeve and ESP key derivations. */
export { deriveSleeveKeys } from "./datapath/sleeve/keys.ts";
export { deriveEspKeys } from "./datapath/fastdp/esp_keys.ts";

/** Planning: desired state to exact commands. */
export {
  type Change,
  type DesiredHost,
  planHost,
  renderPlan,
  teardownPlan,
} from "./datapath/host/mod.ts";
export { networkMtu, sleeveMtu, vxlanEspMtu, vxlanMtu } from "./datapath/mtu.ts";
export { isolationRuleset } from "./datapath/host/isolation_rules.ts";
