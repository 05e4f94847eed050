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

/**
 * Where a peer can be dialled: an IP literal (the v1 case), or a DNS name the agent resolves
 * again at every dial (IPv4 and IPv6), never caching it past its use.
 */
export type PeerEndpoint =
  | {
    kind: "ip";
    /** Canonical IP (v4 or v6, no brackets). */
    ip: string;
    family: 4 | 6;
    port: number;
  }
  | {
    kind: "dns";
    /** Lower-cased host name, e.g. `edge-7.example.net`. */
    host: string;
    port: number;
  };

/** One box of the fleet. */
export interface Peer {
  /** Unique name; `--name` (or the hostname) selects which peer this box is. */
  name: string;
  /**
   * Underlay IP address (v4 or v6, no brackets, no port): the v1 view, equal to `endpoint.ip`
   * when `endpoint.kind === "ip"`. **Empty** for a DNS-named or dial-out-only peer: code that
   * dials or binds must use {@link Peer.endpoint}.
   */
  address: string;
  /** 4 or 6 (`endpoint.family` for an IP peer; 4 for the others). */
  family: 4 | 6;
  /** Control TCP and sleeve UDP port of this peer (config `port` unless given as `addr:port`). */
  port: number;
  /** Position in `peers` (0-based); used for stable address derivation. */
  index: number;
  /** Where to dial it; null: no `address:`, dial-out only (it dials; nobody dials it). */
  endpoint: PeerEndpoint | null;
  /** Its X25519 public key (`key:`, exactly 32 bytes), or null. Required without an address. */
  key: Uint8Array | null;
  /** `relay: false`: this box forwards for nobody (#16). Absent: true. */
  relay?: boolean;
  /** `relays:`: only these peers may carry this box's relayed traffic (#16). Absent: any. */
  relays?: string[];
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
  /** `labels:` plus `kubernetes.io/metadata.name: <name>`, for network selectors. */
  labels: Labels;
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
  /**
   * `password.previous`: the password being rotated out, accepted by handshakes during a
   * rollout; null when absent (always null without a password).
   */
  previousPassword: PasswordSource | null;
  /**
   * `key_file:`: where this box's X25519 private key is (absolute; relative paths are against
   * the config's folder); default `/etc/weave/node.key` (`DEFAULT_KEY_FILE`). The CLI's
   * `--key-file` overrides it.
   */
  keyFile: string;
  /** `rekey_after:` in milliseconds: a session is re-keyed after this long; default 120 s. */
  rekeyAfterMs: number;
  /** `reject_after:` in milliseconds: keys older than this are refused; default 180 s. */
  rejectAfterMs: number;
  /**
   * `nat_keepalive:` in milliseconds: the sleeve's keepalive period for pairs whose UDP path
   * crosses a NAT (one end dial-out only, or an endpoint learned elsewhere than configured);
   * default 25 s (`DEFAULT_NAT_KEEPALIVE_MS`). Other pairs get none.
   */
  natKeepaliveMs: number;
  /** `workloads:`: network namespaces that join a network on a box. */
  workloads: Workload[];
  /** `routes:`: one-way forwarding between two networks, only where declared. */
  routes: Route[];
  /** `policies:` and the NetworkPolicy documents of `policyFiles:`, normalised, in file order. */
  policies: Policy[];
}

/** Labels as in Kubernetes: `key: value`, keys with an optional DNS-subdomain prefix. */
export type Labels = Record<string, string>;

/** Where a workload's network namespace is. */
export type NetnsRef =
  | { kind: "name"; /** a name under /run/netns (`ip netns`) */ name: string }
  | { kind: "path"; /** an absolute path such as /proc/1234/ns/net */ path: string };

/** A container, VM or service in its own network namespace, joined to one network on one box. */
export interface Workload {
  /** Unique among workloads; `[a-z0-9-]`, 1–63 chars, starting with a letter (a DNS label). */
  name: string;
  /** The box it lives on (a peer that is a member of `network`). */
  peer: string;
  network: string;
  /** Overlay address on the network (inside its subnet, clashing with no member or workload). */
  address: string;
  /**
   * True when derived: a hash of the name picks the address, stepping past taken ones in name
   * order, so adding, removing or reordering other entries rarely (reordering never) moves it.
   */
  derived: boolean;
  netns: NetnsRef;
  /** As written; selectors also see `weave.works/workload`, `weave.works/peer` (see Policy). */
  labels: Labels;
}

/** `routes: [{from, to}]`: the box forwards from `from`'s bridge to `to`'s, one way. */
export interface Route {
  from: string;
  to: string;
}

/** One requirement of a label selector (Kubernetes `matchExpressions`). */
export interface LabelRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  /** Non-empty for In/NotIn, empty for Exists/DoesNotExist. */
  values: string[];
}

/** A Kubernetes label selector; both parts empty selects everything. Parts are ANDed. */
export interface LabelSelector {
  matchLabels: Labels;
  matchExpressions: LabelRequirement[];
}

/** The Layer 4 protocols a policy port can name. */
export type PolicyProtocol = "TCP" | "UDP" | "SCTP";

/** One `ports:` entry: a protocol and a port or range (null port: every port of the protocol). */
export interface PolicyPort {
  protocol: PolicyProtocol;
  port: number | null;
  /** Last port of the range `port..endPort`; null: only `port`. */
  endPort: number | null;
}

/** One entry of `from:`/`to:`. */
export type PolicyPeer =
  | {
    kind: "endpoints";
    /** Networks whose endpoints count; null: the policy's own network (no network selector). */
    networks: LabelSelector | null;
    /** Endpoints of those networks by label; an empty selector: all of them. */
    endpoints: LabelSelector;
  }
  | {
    kind: "ipBlock";
    /** Canonical CIDR. */
    cidr: string;
    /** Canonical CIDRs inside `cidr` that are excluded. */
    except: string[];
  };

/** One ingress or egress rule: traffic matching some peer AND some port is allowed. */
export interface PolicyRule {
  /** Null: `from`/`to` missing or empty, every peer (and address) matches. */
  peers: PolicyPeer[] | null;
  /** Null: `ports` missing or empty, every port and protocol matches. */
  ports: PolicyPort[] | null;
}

/** Where a policy was written, for messages and `status`. */
export interface PolicyOrigin {
  file: string;
  line: number;
  column: number;
}

/**
 * A network policy with the semantics of Kubernetes NetworkPolicy (networking.k8s.io/v1), with
 * networks in place of namespaces and the network's endpoints in place of pods. The endpoints
 * of a network are its workloads (their labels, plus `weave.works/workload: <name>`,
 * `weave.works/peer: <box>`, `weave.works/kind: workload`) and its members' addresses
 * (`weave.works/peer: <name>`, `weave.works/kind: peer`); policies from `policyFiles:` select
 * workloads only (their selectors carry `weave.works/kind In [workload]`, pods being workloads).
 * An endpoint no policy selects for a direction allows everything in that direction; once
 * selected, only what some rule of some selecting policy allows passes; replies to allowed
 * connections pass; traffic from the endpoint's own box is always allowed (Kubernetes' "local
 * node" rule).
 */
export interface Policy {
  /** `name:` (inline) or `metadata.name` (policy file); unique per network. */
  name: string;
  /** The network it lives in (`network:` / `metadata.namespace`). */
  network: string;
  /** The endpoints of `network` it applies to; an empty selector selects all of them. */
  endpoints: LabelSelector;
  /** Directions it isolates (Kubernetes defaulting applied: Ingress, plus Egress with rules). */
  policyTypes: ("Ingress" | "Egress")[];
  /** Allowed incoming traffic; empty with Ingress in policyTypes: nothing is allowed in. */
  ingress: PolicyRule[];
  /** Allowed outgoing traffic; empty with Egress in policyTypes: nothing is allowed out. */
  egress: PolicyRule[];
  origin: PolicyOrigin;
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
