/**
 * What `weave-agent status`, the metrics endpoint and the control socket show: the typed
 * `AgentStatus`, the pure function that builds it from the agent's parts, and the one check that
 * a status read back from the socket has that shape.
 *
 * Control fields are the session layer's own `PeerStatus` (control/peer_connections.ts); sleeve
 * fields are the sleeve's `PeerCounters` / `GlobalCounters` (datapath/sleeve/counters.ts).
 *
 * @module
 */

import type { Config, DatapathMode, Network, Peer } from "../config/types.ts";
import { formatHostPort } from "../config/mod.ts";
import type { AeadBackend, AeadName } from "../datapath/sleeve/mod.ts";
import type { GlobalCounters, PeerCounters, SleevePriority } from "../datapath/sleeve/mod.ts";
import { bridgeName } from "../datapath/link_names.ts";
import type {
  DropReason,
  PeerConnectionsStatus,
  PeerStateName,
  PeerStatus,
} from "./control/mod.ts";
import type { FastdpCapability, PairDatapath } from "./datapath_choice.ts";
import type { PairState } from "./pair_datapath.ts";
import type { Route, TopologyView } from "./topology/mod.ts";
import type { RelayControlView } from "./relay/mod.ts";
import type { WorkloadState } from "./host_reconcile.ts";
import type { PolicyStatus } from "./policy_status.ts";

/** The outcome of the last reload. */
export interface ReloadOutcome {
  at: string;
  ok: boolean;
  message: string;
}

/** The outcome of the last reconcile. */
export interface ReconcileOutcome {
  at: string;
  /**
   * `config.loadedAt` of the config this pass planned from: a reload is in force on the host
   * once the last reconcile's equals the config's (a pass that started before the reload
   * finished may end after it, with the old config).
   */
  configLoadedAt: string;
  changes: number;
  error?: string;
}

/** One peer pair in `status`. */
export interface PeerView {
  name: string;
  /** Where it is dialled, as configured: `ip:port`, `name:port` (DNS), or `dial-out only`. */
  address: string;
  /**
   * How the pair meets on the underlay (#15): `fixed` (both ends have a fixed address),
   * `dial-out` (the peer has none: it dials us), `dials-out` (this box has none: it dials),
   * `dns` (the peer is given by DNS name, resolved at every dial).
   */
  reach: PeerReach;
  /**
   * The peer's UDP endpoint the sleeve sends to, when it differs from the configured one or
   * there is none configured: learned from the control connection's source address, then from
   * the peer's last authenticated datagram (#15); null otherwise.
   */
  learnedEndpoint: LearnedEndpointView | null;
  state: PeerStateName;
  datapath: PairDatapath;
  reason: string;
  encrypted: boolean;
  crypto: string;
  handshakeAgeSeconds: number | null;
  /** The receiver index this box gave the peer's sleeve session (null without a session). */
  sleeveIndex: number | null;
  rttMs: number | null;
  /**
   * Which of this box's passwords the session's keys come from (#14: a rollout is done when
   * every session says `current`); null without a session.
   */
  password: "current" | "previous" | null;
  /** Seconds since the keys in use were made (handshake or last rekey); null without one. */
  keyAgeSeconds: number | null;
  /** Rekeys completed on the current session. */
  rekeys: number;
  lastError: string | null;
  /** The session layer's view of the peer; null while sessions restart. */
  control: PeerStatus | null;
  /** The sleeve's counters for the peer; null without a sleeve or before it knows the peer. */
  sleeve: PeerCounters | null;
  /** How the gossiped graph says this box reaches the peer (#16); null without topology. */
  route: Route | null;
  /**
   * How the pair's sleeve datagrams travel (#16): `direct`, `via <relay>`, or `direct (punched)`
   * (the control session relayed, the datagrams straight through a punched NAT path).
   */
  sleevePath?: string;
}

/** How a pair meets on the underlay (see {@link PeerView.reach}). */
export type PeerReach = "fixed" | "dial-out" | "dials-out" | "dns";

/** A learned endpoint in `status`. */
export interface LearnedEndpointView {
  /** `ip:port`. */
  endpoint: string;
  /** Where it came from: the control connection, or an authenticated sleeve datagram. */
  source: "control" | "sleeve";
  /** The endpoint before the last change, or null. */
  previous: string | null;
  /** ISO time of the last change. */
  since: string;
}

/** A learned endpoint as the agent keeps it (input of `buildStatus`). */
export interface LearnedEndpoint {
  address: string;
  port: number;
  source: "control" | "sleeve";
  previous: string | null;
  /** ms since the epoch. */
  at: number;
}

/** One network in `status`. */
export interface NetworkView {
  name: string;
  subnet: string;
  vni: number;
  mtu: number;
  address: string;
  bridge: string;
  members: { peer: string; address: string }[];
}

/** The shape of `weave-agent status --json`. */
export interface AgentStatus {
  peer: string;
  address: string;
  pid: number;
  config: {
    path: string;
    loadedAt: string;
    datapath: DatapathMode;
    encrypted: boolean;
    lastReload: ReloadOutcome | null;
  };
  fastdp: FastdpCapability;
  /** The sleeve's crypto, and its packet worker's scheduling policy (#18). */
  sleeve: { backend: AeadBackend; aead: AeadName; priority: SleevePriority } | null;
  reconcile: ReconcileOutcome | null;
  /** Bad control-plane input dropped, by reason; null while sessions restart. */
  controlDrops: Record<DropReason, number> | null;
  /** The sleeve's drops not tied to a peer; null without a sleeve. */
  sleeveDrops: GlobalCounters | null;
  peers: PeerView[];
  networks: NetworkView[];
  /** The gossiped graph, routes and gossip counters (#16); null while sessions restart. */
  topology: TopologyView | null;
  /**
   * This box as a relay (#16): whether it relays, what it carried for others (control messages
   * and their bytes; sleeve datagrams and bytes are `sleeveDrops.relayed*`), its relayed streams.
   */
  relay?: RelayControlView | null;
  /** This box's workloads: plumbed, or the error for that workload alone. */
  workloads: WorkloadState[];
  /** Every policy this box enforces, what it selects, and its rule counters. */
  policy: PolicyStatus;
}

/** The running sleeve as status sees it. */
export interface SleeveView {
  backend: AeadBackend;
  preferredAead: AeadName;
  counters: { peers: Record<string, PeerCounters>; global: GlobalCounters };
  priority: SleevePriority;
}

/** Everything `buildStatus` reads. */
export interface StatusInput {
  /** Clock ms, for ages. */
  now: number;
  pid: number;
  config: Config;
  self: Peer;
  loadedAt: Date;
  encrypted: boolean;
  lastReload: ReloadOutcome | null;
  capability: FastdpCapability;
  reconcile: ReconcileOutcome | null;
  sleeve: SleeveView | null;
  control: PeerConnectionsStatus | null;
  pairs: readonly Readonly<PairState>[];
  networks: Network[];
  mtu: number;
  /** The topology view (#16); absent or null while sessions restart. */
  topology?: TopologyView | null;
  /** The relay view (#16); absent or null while sessions restart. */
  relay?: RelayControlView | null;
  /** How each pair's sleeve datagrams travel (#16; absent: `direct`). */
  sleevePaths?: (peer: string) => string;
  workloads: WorkloadState[];
  policy: PolicyStatus;
  /** Endpoints learned per peer (#15); absent: none. */
  learned?: ReadonlyMap<string, LearnedEndpoint>;
}

/** Builds the status. Pure. */
export function buildStatus(s: StatusInput): AgentStatus {
  return {
    peer: s.self.name,
    address: s.self.endpoint === null
      ? "dial-out only"
      : s.self.endpoint.kind === "dns"
      ? formatHostPort(s.self.endpoint.host, s.self.port)
      : formatHostPort(s.self.address, s.self.port),
    pid: s.pid,
    config: {
      path: s.config.path,
      loadedAt: s.loadedAt.toISOString(),
      datapath: s.config.datapath,
      encrypted: s.encrypted,
      lastReload: s.lastReload,
    },
    fastdp: s.capability,
    sleeve: s.sleeve
      ? { backend: s.sleeve.backend, aead: s.sleeve.preferredAead, priority: s.sleeve.priority }
      : null,
    reconcile: s.reconcile,
    controlDrops: s.control?.drops ?? null,
    sleeveDrops: s.sleeve?.counters.global ?? null,
    peers: s.pairs.map((p) => peerView(s, p)),
    networks: s.networks.map((n) => ({
      name: n.name,
      subnet: n.subnet,
      vni: n.vni,
      mtu: s.mtu,
      address: n.members.find((m) => m.peer === s.self.name)?.address ?? "",
      bridge: bridgeName(n.name),
      members: n.members.map((m) => ({ peer: m.peer, address: m.address })),
    })),
    topology: s.topology ?? null,
    relay: s.relay ?? null,
    workloads: s.workloads,
    policy: s.policy,
  };
}

function peerView(s: StatusInput, p: Readonly<PairState>): PeerView {
  const c = s.control?.peers[p.peer.name] ?? null;
  return {
    name: p.peer.name,
    address: configuredEndpoint(p.peer),
    reach: peerReach(s.self, p.peer),
    learnedEndpoint: learnedView(s.learned?.get(p.peer.name)),
    state: c?.state ?? (p.secrets ? "up" : "down"),
    datapath: p.datapath,
    reason: p.reason,
    encrypted: p.secrets?.authenticated ?? false,
    crypto: pairCrypto(s, p),
    handshakeAgeSeconds: p.sessionSince === null
      ? null
      : Math.round((s.now - p.sessionSince) / 1000),
    sleeveIndex: p.secrets ? p.localIndex : null,
    rttMs: c?.rttMs ?? null,
    password: c?.password ?? null,
    keyAgeSeconds: c?.keyAgeSeconds ?? null,
    rekeys: c?.rekeys ?? 0,
    lastError: c?.lastError ?? null,
    control: c,
    sleeve: s.sleeve?.counters.peers[p.peer.name] ?? null,
    route: s.topology?.routes.find((r) => r.peer === p.peer.name) ?? null,
    sleevePath: s.sleevePaths?.(p.peer.name) ?? "direct",
  };
}

/** Where a peer is dialled, as configured. */
export function configuredEndpoint(peer: Peer): string {
  if (peer.endpoint === null) return "dial-out only";
  if (peer.endpoint.kind === "dns") return formatHostPort(peer.endpoint.host, peer.port);
  return formatHostPort(peer.address, peer.port);
}

/** How this box and `peer` meet on the underlay. */
export function peerReach(self: Peer, peer: Peer): PeerReach {
  if (peer.endpoint === null) return "dial-out";
  if (self.endpoint === null) return "dials-out";
  return peer.endpoint.kind === "dns" ? "dns" : "fixed";
}

function learnedView(e: LearnedEndpoint | undefined): LearnedEndpointView | null {
  if (!e) return null;
  return {
    endpoint: formatHostPort(e.address, e.port),
    source: e.source,
    previous: e.previous,
    since: new Date(e.at).toISOString(),
  };
}

/** What protects the pair's traffic, in words. */
function pairCrypto(s: StatusInput, p: Readonly<PairState>): string {
  if (!s.encrypted) return "none";
  if (p.datapath === "fastdp") return "kernel ESP rfc4106(gcm(aes))";
  if (!s.sleeve) return "none";
  return `${s.sleeve.backend} ${p.remote?.aead ?? s.sleeve.preferredAead}`;
}

/** Frames the sleeve dropped for exceeding the MTU, summed over peers and global. */
export function oversizeDrops(counters: SleeveView["counters"]): number {
  return counters.global.oversize +
    Object.values(counters.peers).reduce((a, p) => a + p.drops.oversize, 0);
}

// ---- reading a status back ----

/** A status read from the socket does not have the shape `AgentStatus` declares. */
export class StatusShapeError extends Error {}

/**
 * Checks that `v` (JSON from the control socket) has the shape of `AgentStatus`: every field
 * the CLI reads, with its type; counters are objects of numbers. Throws naming the first bad
 * field, so a mismatched agent build is a clear error rather than a garbled table.
 */
export function assertAgentStatus(v: unknown): asserts v is AgentStatus {
  const s = record(v, "status");
  str(s.peer, "peer");
  str(s.address, "address");
  num(s.pid, "pid");
  const c = record(s.config, "config");
  str(c.path, "config.path");
  str(c.loadedAt, "config.loadedAt");
  oneOf(c.datapath, ["auto", "fastdp", "sleeve"], "config.datapath");
  bool(c.encrypted, "config.encrypted");
  if (c.lastReload !== null) {
    const r = record(c.lastReload, "config.lastReload");
    str(r.at, "config.lastReload.at");
    bool(r.ok, "config.lastReload.ok");
    str(r.message, "config.lastReload.message");
  }
  const f = record(s.fastdp, "fastdp");
  bool(f.capable, "fastdp.capable");
  str(f.reason, "fastdp.reason");
  if (s.sleeve !== null) {
    const sl = record(s.sleeve, "sleeve");
    str(sl.backend, "sleeve.backend");
    str(sl.aead, "sleeve.aead");
  }
  if (s.reconcile !== null) {
    const r = record(s.reconcile, "reconcile");
    str(r.at, "reconcile.at");
    str(r.configLoadedAt, "reconcile.configLoadedAt");
    num(r.changes, "reconcile.changes");
    if (r.error !== undefined) str(r.error, "reconcile.error");
  }
  if (s.controlDrops !== null) counters(s.controlDrops, "controlDrops");
  if (s.sleeveDrops !== null) counters(s.sleeveDrops, "sleeveDrops");
  list(s.peers, "peers").forEach((p, i) => assertPeerView(p, `peers[${i}]`));
  if (s.topology !== null && s.topology !== undefined) assertTopology(s.topology);
  if (s.relay !== null && s.relay !== undefined) {
    const r = record(s.relay, "relay");
    bool(r.relays, "relay.relays");
    counters(r.counters, "relay.counters");
    list(r.streams, "relay.streams").forEach((x, i) => {
      const st = record(x, `relay.streams[${i}]`);
      for (const k of ["peer", "via", "opener"]) str(st[k], `relay.streams[${i}].${k}`);
    });
  }
  list(s.networks, "networks").forEach((n, i) => {
    const at = `networks[${i}]`;
    const r = record(n, at);
    for (const k of ["name", "subnet", "address", "bridge"]) str(r[k], `${at}.${k}`);
    num(r.vni, `${at}.vni`);
    num(r.mtu, `${at}.mtu`);
    list(r.members, `${at}.members`).forEach((m, j) => {
      const mr = record(m, `${at}.members[${j}]`);
      str(mr.peer, `${at}.members[${j}].peer`);
      str(mr.address, `${at}.members[${j}].address`);
    });
  });
  assertWorkloadsAndPolicy(s);
}

function assertWorkloadsAndPolicy(s: Record<string, unknown>): void {
  list(s.workloads, "workloads").forEach((w, i) => {
    const r = record(w, `workloads[${i}]`);
    for (const k of ["name", "network", "address", "netns"]) str(r[k], `workloads[${i}].${k}`);
    oneOf(r.state, ["ok", "error"], `workloads[${i}].state`);
    if (r.error !== undefined) str(r.error, `workloads[${i}].error`);
  });
  const p = record(s.policy, "policy");
  counters(p.denied, "policy.denied");
  list(p.policies, "policy.policies").forEach((x, i) => {
    const at = `policy.policies[${i}]`;
    const r = record(x, at);
    str(r.id, `${at}.id`);
    for (const k of ["name", "network", "origin"]) if (r[k] !== null) str(r[k], `${at}.${k}`);
    list(r.selects, `${at}.selects`).forEach((e, j) => str(e, `${at}.selects[${j}]`));
    list(r.rules, `${at}.rules`).forEach((e, j) => {
      const rr = record(e, `${at}.rules[${j}]`);
      str(rr.rule, `${at}.rules[${j}].rule`);
      oneOf(rr.direction, ["ingress", "egress"], `${at}.rules[${j}].direction`);
      num(rr.packets, `${at}.rules[${j}].packets`);
      num(rr.bytes, `${at}.rules[${j}].bytes`);
    });
  });
}

function assertPeerView(v: unknown, at: string): void {
  const p = record(v, at);
  for (const k of ["name", "address", "state", "reason", "crypto"]) str(p[k], `${at}.${k}`);
  oneOf(p.datapath, ["pending", "probing", "fastdp", "sleeve"], `${at}.datapath`);
  bool(p.encrypted, `${at}.encrypted`);
  for (const k of ["handshakeAgeSeconds", "sleeveIndex", "rttMs", "keyAgeSeconds"]) {
    if (p[k] !== null) num(p[k], `${at}.${k}`);
  }
  if (p.password !== null) oneOf(p.password, ["current", "previous"], `${at}.password`);
  num(p.rekeys, `${at}.rekeys`);
  if (p.lastError !== null) str(p.lastError, `${at}.lastError`);
  if (p.sleevePath !== undefined) str(p.sleevePath, `${at}.sleevePath`);
  if (p.control !== null) record(p.control, `${at}.control`);
  if (p.route !== null && p.route !== undefined) {
    const r = record(p.route, `${at}.route`);
    oneOf(r.kind, ["direct", "via", "unreachable"], `${at}.route.kind`);
    if (r.kind === "unreachable") str(r.why, `${at}.route.why`);
    if (r.kind === "via") str(r.via, `${at}.route.via`);
  }
  if (p.sleeve !== null) {
    const sl = counters(p.sleeve, `${at}.sleeve`);
    for (const k of ["txPackets", "txBytes", "rxPackets", "rxBytes"]) {
      num(sl[k], `${at}.sleeve.${k}`);
    }
    counters(sl.drops, `${at}.sleeve.drops`);
  }
}

/** The topology part: the lists the CLI reads (peers, edges, routes) and the counters. */
function assertTopology(v: unknown): void {
  const t = record(v, "topology");
  list(t.peers, "topology.peers").forEach((p, i) => str(p, `topology.peers[${i}]`));
  list(t.edges, "topology.edges").forEach((e, i) => {
    const r = record(e, `topology.edges[${i}]`);
    str(r.a, `topology.edges[${i}].a`);
    str(r.b, `topology.edges[${i}].b`);
    oneOf(r.state, ["direct", "punched", "relayed", "down"], `topology.edges[${i}].state`);
    if (r.rttMs !== null) num(r.rttMs, `topology.edges[${i}].rttMs`);
  });
  list(t.routes, "topology.routes").forEach((x, i) => {
    const r = record(x, `topology.routes[${i}]`);
    str(r.peer, `topology.routes[${i}].peer`);
    oneOf(r.kind, ["direct", "via", "unreachable"], `topology.routes[${i}].kind`);
  });
  num(t.origins, "topology.origins");
  counters(t.counters, "topology.counters");
}

function fail(at: string, want: string, got: unknown): never {
  throw new StatusShapeError(
    `status from the agent: ${at} should be ${want}, got ${JSON.stringify(got) ?? String(got)}`,
  );
}
function record(v: unknown, at: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) fail(at, "an object", v);
  return Object.fromEntries(Object.entries(v));
}
function list(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) fail(at, "a list", v);
  return v;
}
function str(v: unknown, at: string): void {
  if (typeof v !== "string") fail(at, "a string", v);
}
function num(v: unknown, at: string): void {
  if (typeof v !== "number" || !Number.isFinite(v)) fail(at, "a number", v);
}
function bool(v: unknown, at: string): void {
  if (typeof v !== "boolean") fail(at, "true or false", v);
}
function oneOf(v: unknown, allowed: string[], at: string): void {
  if (typeof v !== "string" || !allowed.includes(v)) fail(at, allowed.join(" | "), v);
}
/** An object whose leaves are numbers (nested objects allowed). */
function counters(v: unknown, at: string): Record<string, unknown> {
  const r = record(v, at);
  for (const [k, x] of Object.entries(r)) {
    if (typeof x === "object" && x !== null) counters(x, `${at}.${k}`);
    else num(x, `${at}.${k}`);
  }
  return r;
}
