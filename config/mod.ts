/**
 * The public config API: load and validate `weave.yaml`, print diagnostics, find this box's
 * peer, read the password. Code outside `config/` imports only from here (and `types.ts`).
 *
 * ```ts
 * const result = await loadConfig("weave.yaml");
 * for (const d of result.diagnostics) console.error(formatDiagnostic(d));
 * if (result.ok) console.log(describeForPeer(result.config, selfName()));
 * ```
 *
 * ## What the folder holds
 * - `load.ts` reads the file; `parse.ts` orchestrates the section parsers `parse_scalars.ts`,
 *   `parse_password.ts`, `parse_peers.ts`, `parse_networks.ts`, `parse_members.ts`, which share
 *   `parse_context.ts`, `yaml_reader.ts` (typed YAML reading) and `diagnostics.ts` (positions).
 * - `types.ts`: the validated {@link Config}; `derive.ts`: member addresses and VNIs;
 *   `names.ts`: naming rules; `ip.ts`: addresses and subnets; `password.ts`: the password's
 *   source, its checks and its bytes; `describe.ts`: which peer this box is, in words.
 * - May import: the `yaml` package and leaf facts of `datapath/` (`mtu.ts`, `link_names.ts`).
 *   Never `agent/`.
 *
 * ## Error contract (one per kind of operation)
 * - **Validating a config** (`loadConfig`, `parseConfig`) never throws for bad input: every
 *   problem with the file, its YAML, its values, or the password source it names (missing file,
 *   unset variable, loose permissions) is a {@link Diagnostic} with `file:line:column` (1-based,
 *   of the offending node; 1:1 when the file itself cannot be read) and, where one exists, a
 *   hint. All problems are collected; `ok` is false exactly when there is an error.
 * - **Reading what a loaded config points to at run time** (`readPassword`) throws an `Error`
 *   whose message names the source (`password: cannot read password file /etc/weave/pw: …`):
 *   the config was valid when loaded, so this is an event of the running agent, not a position
 *   in a file. `readPasswordSource` is the non-throwing form (a {@link PasswordReading}).
 * - **Pure helpers** (`parseIp`, `parseCidr`, `splitHostPort`, `checkPeerName`, …) return null
 *   (or a problem object) for invalid input and never throw; `subnetsOverlap` and the other
 *   helpers taking `Cidr | string` throw a `TypeError` for an unparsable string (a programming
 *   error: callers pass validated values).
 * - **Describing** (`describeForPeer`) returns text; an unknown peer becomes a formatted error
 *   diagnostic in that text.
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
export {
  createPasswordFileCommand,
  formatMode,
  modeIsShared,
  type PasswordAccess,
  type PasswordReading,
  readPassword,
  readPasswordSource,
  stripOneNewline,
  systemPasswordAccess,
} from "./password.ts";
export { describeForPeer, findSelf, selfName } from "./describe.ts";
export { formatDiagnostic, formatDiagnostics } from "./diagnostics.ts";
export { didYouMean } from "./did_you_mean.ts";
export { assignVnis, deriveMemberAddress, hashVni, MAX_VNI, MIN_DERIVED_VNI } from "./derive.ts";
export { checkNetworkName, checkPeerName } from "./names.ts";
// Addresses and subnets (`parseIp`, `formatIp`, `subnetsOverlap`, …): also for
// agent/control/peer_address.ts.
export * from "./ip.ts";
