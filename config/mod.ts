/**
 * The public config API: load and validate `weave.yaml`, print diagnostics, find this box's
 * peer, read the password. Code outside `config/` imports only from here (and `types.ts`, and
 * `self_name.ts` for commands that must answer without loading the parser).
 *
 * ```ts
 * const result = await loadConfig("weave.yaml");
 * for (const d of result.diagnostics) console.error(formatDiagnostic(d));
 * if (result.ok) console.log(describeForPeer(result.config, selfName()));
 * ```
 *
 * ## What the folder holds
 * - `load.ts` reads the file; `parse.ts` orchestrates the section parsers `parse_scalars.ts`,
 *   `parse_password.ts`, `parse_peers.ts`, `parse_networks.ts`, `parse_members.ts`,
 *   `parse_labels.ts`, `parse_workloads.ts` (workloads and routes), `parse_policies.ts`,
 *   `parse_policy_files.ts`, which share `parse_context.ts`, `yaml_reader.ts` (typed YAML
 *   reading) and `diagnostics.ts` (positions), all reading YAML through `yaml.ts` (the package's
 *   ES-module build: a quicker start). `fleet.ts`: fleet-mode validation.
 * - `types.ts`: the validated {@link Config}; `derive.ts`: member addresses and VNIs;
 *   `names.ts`: naming rules; `ip.ts`: addresses and subnets; `password.ts`: the password's
 *   source, its checks and its bytes; `describe.ts`: which peer this box is, in words.
 * - May import: the `yaml` package and leaf facts of `datapath/` (`mtu.ts`, `link_names.ts`).
 *   Never `agent/`.
 *
 * ## Keys of weave.yaml (version 1; additions keep older files parsing the same)
 * Top level: `version` (1, required); `password` (`{file}` or `{env}`, plus `previous:` during
 * a rotation; none: a warning) → `password`, `previousPassword`; `port` (6783); `vxlan_port`
 * (port + 1); `datapath` (auto | fastdp | sleeve; auto); `underlay_mtu` (1500); `metrics`
 * (host:port; off); `key_file` → `keyFile` (`/etc/weave/node.key`, relative to the config's
 * folder); `rekey_after`, `reject_after` → `rekeyAfterMs`, `rejectAfterMs` (durations with
 * units, 120s and 180s, reject > rekey); `nat_keepalive` → `natKeepaliveMs` (the sleeve's
 * keepalive for pairs across a NAT; 25s, 1s..2m); `peers`, `networks`, `workloads`, `routes`, `policies`,
 * `policyFiles` (the last four default to none).
 * - `peers[]`: `name`; `address` (ip, ip:port, [ipv6]:port, DNS name[:port]; optional: dial-out
 *   only) → `endpoint`; `key` (base64 X25519 public key, 32 bytes; required without address).
 * - `networks[]`: `name`, `subnet`, `vni` (derived), `members` (every peer), `labels` (plus
 *   `kubernetes.io/metadata.name: <name>`).
 * - `workloads[]`: `name`, `peer`, `network`, `address` (derived from the name), `netns` (name
 *   or absolute path), `labels`. `routes[]`: `from`, `to`.
 * - `policies[]`: `name`, `network`, and a NetworkPolicy spec (`podSelector`, `policyTypes`,
 *   `ingress[].from`, `egress[].to` with `podSelector`/`networkSelector`/`ipBlock`, `ports`).
 *   `policyFiles[]`: files of standard `kind: NetworkPolicy` documents (see
 *   `parse_policy_files.ts` for what cannot be mapped).
 *
 * ## Fleet mode
 * `validateFleet(path)` (in `fleet.ts`) checks everything that does not depend on a box or a
 * secret and returns `{ok, diagnostics, skipped, config}`; `skipped` lists what was left to the
 * boxes (`identity`, `password.source`, `password.previous`, `key_file`) with why. The CLI's
 * `validate` without `--name` (and `--format github`, `--json`) builds on it.
 *
 * ## Error contract (one per kind of operation)
 * - **Validating a config** (`loadConfig`, `parseConfig`) never throws for bad input: every
 *   problem with the file, its YAML, its values, or the password source it names (missing file,
 *   unset variable, loose permissions) is a {@link Diagnostic} with `file:line:column` (1-based,
 *   of the offending node; 1:1 when the file itself cannot be read) and, where one exists, a
 *   hint. All problems are collected; `ok` is false exactly when there is an error.
 * - Policy files are parsed like weave.yaml; their diagnostics carry the policy file's own
 *   path:line:column (the `file` of the Diagnostic), shown after weave.yaml's.
 * - **Reading what a loaded config points to at run time** (`readPassword`, `readPasswords`)
 *   throws an `Error` whose message names the source (`password: cannot read password file
 *   /etc/weave/pw: …`): the config was valid when loaded, so this is an event of the running
 *   agent, not a position in a file. `readPasswordSource` is the non-throwing form (a
 *   {@link PasswordReading}).
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
  LabelRequirement,
  Labels,
  LabelSelector,
  LoadResult,
  Member,
  MetricsEndpoint,
  NetnsRef,
  Network,
  PasswordSource,
  Peer,
  PeerEndpoint,
  Policy,
  PolicyOrigin,
  PolicyPeer,
  PolicyPort,
  PolicyProtocol,
  PolicyRule,
  Route,
  Severity,
  Workload,
} from "./types.ts";
export {
  DEFAULT_DATAPATH,
  DEFAULT_KEY_FILE,
  DEFAULT_NAT_KEEPALIVE_MS,
  DEFAULT_PORT,
  DEFAULT_REJECT_AFTER_MS,
  DEFAULT_REKEY_AFTER_MS,
  DEFAULT_UNDERLAY_MTU,
  parseConfig,
  type ParseOptions,
} from "./parse.ts";
export { type FleetValidation, type SkippedCheck, skippedChecks, validateFleet } from "./fleet.ts";
export {
  KIND_LABEL,
  matchesSelector,
  NETWORK_NAME_LABEL,
  PEER_LABEL,
  WORKLOAD_LABEL,
} from "./parse_labels.ts";
export { formatDuration, parseDuration } from "./parse_scalars.ts";
export { loadConfig } from "./load.ts";
export {
  createPasswordFileCommand,
  formatMode,
  modeIsShared,
  type PasswordAccess,
  type PasswordReading,
  type Passwords,
  readPassword,
  readPasswords,
  readPasswordSource,
  samePasswords,
  stripOneNewline,
  systemPasswordAccess,
} from "./password.ts";
export {
  DESCRIBE_LIST_MAX,
  describeForPeer,
  describeList,
  type DescribeListOptions,
  findSelf,
  hasFixedAddress,
  peerEndpointText,
} from "./describe.ts";
export { selfName } from "./self_name.ts";
export { formatDiagnostic, formatDiagnostics } from "./diagnostics.ts";
export { didYouMean } from "./did_you_mean.ts";
export { assignVnis, deriveMemberAddress, hashVni, MAX_VNI, MIN_DERIVED_VNI } from "./derive.ts";
export { checkNetworkName, checkPeerName } from "./names.ts";
// Addresses and subnets (`parseIp`, `formatIp`, `subnetsOverlap`, …): also for
// agent/control/peer_address.ts.
export * from "./ip.ts";
