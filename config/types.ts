/**
 * The validated, fully-resolved shape of a `weave.yaml` (version 1).
 *
 * Everything here is plain data: defaults are filled in, member addresses and VNIs are derived,
 * paths are absolute. Code outside `config/` only ever sees this, never raw YAML.
 *
 * @module
 */

/** Which datapath the operator asked for. */
export type DatapathMode = "auto" | "fastdp" | "sleeve";

/** Where the shared password comes from. A literal password in the file is refused. */
export type PasswordSource =
  | { kind: "file"; /** absolute path, resolved against the config file's folder */ path: string }
  | { kind: "env"; /** environment variable name */ name: string };

/** One box of the fleet. */
export interface Peer {
  /** Unique name; `--name` (or the hostname) selects which peer this box is. */
  name: string;
  /** Underlay IP address (v4 or v6, no brackets, no port). */
  address: string;
  /** 4 or 6. */
  family: 4 | 6;
  /** Control TCP and sleeve UDP port of this peer (config `port` unless given as `addr:port`). */
  port: number;
  /** Position in `peers` (0-based); used for stable address derivation. */
  index: number;
}

/** A peer's membership in a network. */
export interface Member {
  peer: string;
  /** Overlay IPv4/IPv6 address of this peer on the network. */
  address: string;
  /** True when derived from the subnet and the peer's position rather than written in the file. */
  derived: boolean;
}

/** One isolated layer-2 network: its own bridge and VNI. */
export interface Network {
  /** 1–11 chars `[a-z0-9-]`, starting with a letter: it becomes part of interface names. */
  name: string;
  /** Canonical CIDR, e.g. `10.32.1.0/24`. */
  subnet: string;
  family: 4 | 6;
  prefixLength: number;
  /** VXLAN network identifier, 1..16777215; also the network id in sleeve headers. */
  vni: number;
  /** True when derived from the name rather than written in the file. */
  vniDerived: boolean;
  members: Member[];
}

/** `metrics: 127.0.0.1:9100` — optional Prometheus endpoint. */
export interface MetricsEndpoint {
  host: string;
  port: number;
}

/** A validated weave.yaml. */
export interface Config {
  version: 1;
  /** Absolute path of the file it was loaded from. */
  path: string;
  /** Null: no encryption (the agent warns loudly). */
  password: PasswordSource | null;
  /** Control TCP and sleeve UDP port; default 6783. */
  port: number;
  /** Fast datapath VXLAN UDP port; default port + 1. */
  vxlanPort: number;
  datapath: DatapathMode;
  /** MTU of the underlay links; default 1500. Overlay MTUs are derived from it. */
  underlayMtu: number;
  metrics: MetricsEndpoint | null;
  peers: Peer[];
  networks: Network[];
}

/** Severity of a diagnostic. */
export type Severity = "error" | "warning";

/** A problem found in a config, with where it is. Lines and columns are 1-based. */
export interface Diagnostic {
  severity: Severity;
  /** File the diagnostic is about (the config, or the password file). */
  file: string;
  line: number;
  column: number;
  /** What is wrong, naming the offending value. */
  message: string;
  /** How to fix it. */
  hint?: string;
}

/** Result of loading a config: either a config (possibly with warnings) or errors. */
export type LoadResult =
  | { ok: true; config: Config; diagnostics: Diagnostic[] }
  | { ok: false; diagnostics: Diagnostic[] };
