/**
 * The public config API: load and validate `weave.yaml`, print diagnostics, find this box's
 * peer, read the password. Code outside `config/` imports from here (and `types.ts`).
 *
 * ```ts
 * const result = await loadConfig("weave.yaml");
 * for (const d of result.diagnostics) console.error(formatDiagnostic(d));
 * if (result.ok) console.log(describeForPeer(result.config, selfName()));
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
  MetricsEndpoint,
  Network,
  PasswordSource,
  Peer,
  Severity,
} from "./types.ts";
export { parseConfig, type ParseOptions } from "./parse.ts";
export { loadConfig } from "./load.ts";
export { readPassword } from "./password.ts";
export { describeForPeer, findSelf, selfName } from "./describe.ts";
export { formatDiagnostic, formatDiagnostics } from "./diagnostics.ts";
export { assignVnis, deriveMemberAddress, hashVni, MAX_VNI, MIN_DERIVED_VNI } from "./derive.ts";
export { checkNetworkName, checkPeerName } from "./names.ts";
export * from "./ip.ts";
