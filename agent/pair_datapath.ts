/**
 * Per-pair datapath negotiation: which datapath each peer pair uses, agreed by both ends over
 * the pair's authenticated control session (the session itself is `control/peer_connections.ts`).
 *
 * The protocol, in the order a pair walks it:
 * 1. Session up: each end sends `caps` (can it do fast datapath, and why not; its sleeve AEAD
 *    and receiver index; its bridge MACs). The pair is `pending`.
 * 2. Both caps known: `pairStartDecision` puts the pair on the sleeve, or on `probing`.
 * 3. Probing: each end sends VXLAN heartbeats from its overlay address to the peer's
 *    (`vxlan_heartbeat.ts`); the receiver echoes the nonce as `hb-ack` over the session, so an
 *    answer cannot be forged on the wire. The non-decider reports its outcome as `probe-result`;
 *    the decider (`control/pair_roles.ts`) settles with `datapath` (`pairProbeDecision`).
 * 4. Fast datapath: heartbeats continue; when they stop being answered the pair falls back to the
 *    sleeve (the decider says so, the other end reports `probe-result: false`).
 *
 * Timers, one named function per expiry (`#expire…`), run on an injectable `Clock`, so the unit
 * tests step time by hand. Everything the agent must do about a change goes through
 * `PairEffects`.
 *
 * @module
 */

import type { Network, Peer } from "../config/types.ts";
import type { AeadName } from "../datapath/sleeve/mod.ts";
import { type ControlMessage, everyOnGrid, type SessionSecrets } from "./control/mod.ts";
import type { Logger } from "./ops/log.ts";
import { type Clock, systemClock } from "./clock.ts";
import { HeartbeatAcks, PendingHeartbeats } from "./vxlan_heartbeat.ts";
import {
  type FastdpCapability,
  isDecider,
  type PairDatapath,
  pairProbeDecision,
  pairStartDecision,
  pairUnderlayReason,
} from "./datapath_choice.ts";

/** Bridge MACs per VNI (decimal string keys), as a box announces them. */
export type BridgeMacs = Record<string, string[]>;

/** The negotiation's messages (JSON on the sealed control session; wire format unchanged). */
export type PairMessage =
  | {
    type: "caps";
    fastdp: boolean;
    fastdpReason: string;
    aead: AeadName;
    sleeveIndex: number;
    macs: BridgeMacs;
  }
  | { type: "macs"; macs: BridgeMacs }
  | { type: "hb-ack"; nonce: string }
  | { type: "probe-result"; ok: boolean }
  | { type: "datapath"; datapath: "fastdp" | "sleeve"; reason: string };

/** Timing of the negotiation. */
export interface PairTiming {
  /** Period of the timer that sends heartbeats and expires probes. */
  tickMs: number;
  /** How long the VXLAN heartbeat may take before a probing pair falls back to the sleeve. */
  probeTimeoutMs: number;
  /** Spacing of heartbeats while probing. */
  probeIntervalMs: number;
  /** How long the decider waits for the peer's `probe-result` before counting it as failed. */
  reportTimeoutMs: number;
  /** Steady-state heartbeat period on fast-datapath pairs. */
  fastdpHeartbeatMs: number;
  /** A fast-datapath pair whose heartbeats went unanswered this long falls back to the sleeve. */
  fastdpDeadMs: number;
}

/** Default timing. */
export const PAIR_TIMING: PairTiming = {
  tickMs: 1000,
  probeTimeoutMs: 5000,
  probeIntervalMs: 300,
  reportTimeoutMs: 10_000,
  fastdpHeartbeatMs: 2000,
  fastdpDeadMs: 8000,
};

/** Heartbeat nonces remembered per pair: enough for a probe's worth, bounded against floods. */
export const MAX_PENDING_NONCES = 64;
/** Bounds on a peer's MAC announcement (it is data from the network). */
export const MAX_ANNOUNCED_NETWORKS = 256;
export const MAX_MACS_PER_NETWORK = 64;

/** What this box knows about the pair it forms with one peer. */
export interface PairState {
  peer: Peer;
  secrets: SessionSecrets | null;
  /** Where the session's connection came from or went to (canonical IP); null without one. */
  sessionFrom: string | null;
  /** When the session came up (clock ms); null without one. */
  sessionSince: number | null;
  /** What the peer announced in `caps`; null until it did. */
  remote: { cap: FastdpCapability; aead: AeadName; sleeveIndex: number } | null;
  /** The sleeve receiver index this box gave the pair's session. */
  localIndex: number;
  datapath: PairDatapath;
  reason: string;
  macs: BridgeMacs;
}

interface Probe {
  started: number;
  localOk: boolean | null;
  remoteOk: boolean | null;
  /** Heartbeats sent and not answered yet (`vxlan_heartbeat.ts`: each once, for a while). */
  pending: PendingHeartbeats;
  /** Send time of the last heartbeat answered. */
  lastAck: number;
  lastSent: number;
}

interface Pair extends PairState {
  probe: Probe | null;
}

/** What the agent does when a pair changes; and how the protocol reaches the peer. */
export interface PairEffects {
  /** Sends over the pair's session; false when there is none. */
  send(peer: string, msg: PairMessage): boolean;
  /** One VXLAN heartbeat between overlay addresses; resolves to its nonce (null: not sent). */
  heartbeat(from: string, to: string, port: number): Promise<string | null>;
  /** The pair's sleeve session, membership or activity may have changed. */
  sleeveChanged(pair: Readonly<PairState>): void;
  /**
   * Fast-datapath kernel state for the pair changed (ESP, FDB). `moved`: the pair changed
   * datapath, so MACs the bridges learned on the old port must be flushed after reconcile.
   */
  hostChanged(pair: Readonly<PairState>, moved: boolean): void;
}

/** Construction options. */
export interface PairDatapathOptions {
  localName: string;
  effects: PairEffects;
  log: Logger;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: `PAIR_TIMING`. */
  timing?: Partial<PairTiming>;
  /** First sleeve receiver index (default: random, so a restart does not reuse indices). */
  firstIndex?: number;
}

/** What `configure` sets: facts about this box that change only on reload. */
export interface PairContext {
  capability: FastdpCapability;
  /** Networks this box is a member of. */
  networks: Network[];
  /** The AEAD this box's sleeve prefers. */
  aead: AeadName;
}

/** The negotiation for every pair this box is part of. */
export class PairDatapaths {
  readonly #o: Required<Omit<PairDatapathOptions, "timing">> & { timing: PairTiming };
  #pairs = new Map<string, Pair>();
  /** Which arriving heartbeats are acked (once each, rate-limited per peer). */
  readonly #acks = new HeartbeatAcks();
  #ctx: PairContext = {
    capability: { capable: false, reason: "not configured yet" },
    networks: [],
    aead: "aes-256-gcm",
  };
  #localMacs: BridgeMacs = {};
  #nextIndex: number;
  #cancelTick: (() => void) | null = null;
  /** Messages from peers that were not negotiation messages: dropped, counted. */
  dropped = 0;

  constructor(opts: PairDatapathOptions) {
    this.#o = {
      clock: systemClock,
      firstIndex: crypto.getRandomValues(new Uint32Array(1))[0],
      ...opts,
      timing: { ...PAIR_TIMING, ...opts.timing },
    };
    this.#nextIndex = this.#o.firstIndex >>> 0;
  }

  /** Sets this box's capability, networks and sleeve AEAD (at start and on reload). */
  configure(ctx: PairContext): void {
    this.#ctx = ctx;
  }

  /** Starts the timer. */
  start(): void {
    if (this.#cancelTick) return;
    // On the wall-clock grid: the agent's timers of a second share one wake-up (grid_timer.ts).
    this.#cancelTick = everyOnGrid(this.#o.timing.tickMs, () => this.tick(), this.#o.clock);
  }

  stop(): void {
    this.#cancelTick?.();
    this.#cancelTick = null;
  }

  /** Every pair, for status and the desired host state. */
  pairs(): Readonly<PairState>[] {
    return [...this.#pairs.values()];
  }

  get(name: string): Readonly<PairState> | undefined {
    return this.#pairs.get(name);
  }

  /** Makes a pair for each peer that has none and refreshes the peer of the others. */
  setPeers(peers: Peer[]): void {
    for (const peer of peers) {
      const p = this.#pairs.get(peer.name);
      if (p) p.peer = peer;
      else this.#pairs.set(peer.name, newPair(peer));
    }
  }

  /** Forgets a pair (peer removed or moved). */
  remove(name: string): void {
    this.#pairs.delete(name);
    this.#acks.forget(name);
  }

  /** Ends every pair's session and forgets them all (the sessions restart). */
  reset(reason: string): void {
    for (const name of this.#pairs.keys()) this.sessionDown(name, reason);
    this.#pairs.clear();
  }

  /** This box's bridge MACs; announced to every pair with a session when they change. */
  setLocalMacs(macs: BridgeMacs): void {
    if (JSON.stringify(macs) === JSON.stringify(this.#localMacs)) return;
    this.#localMacs = macs;
    for (const p of this.#pairs.values()) {
      if (p.secrets) this.#o.effects.send(p.peer.name, { type: "macs", macs });
    }
  }

  // ---- session events ----

  sessionUp(name: string, secrets: SessionSecrets, from: string | null = null): void {
    const p = this.#pairs.get(name);
    if (!p) return;
    p.secrets = secrets;
    p.sessionFrom = from;
    p.sessionSince = this.#o.clock.now();
    p.remote = null;
    p.probe = null;
    this.#nextIndex = (this.#nextIndex + 1) >>> 0 || 1;
    p.localIndex = this.#nextIndex;
    p.datapath = "pending";
    p.reason = "session up; waiting for the peer's capabilities";
    this.#o.log.info("session up", {
      peer: name,
      authenticated: secrets.authenticated,
      session: secrets.id,
    });
    this.#o.effects.sleeveChanged(p);
    this.#o.effects.send(name, {
      type: "caps",
      fastdp: this.#ctx.capability.capable,
      fastdpReason: this.#ctx.capability.reason,
      aead: this.#ctx.aead,
      sleeveIndex: p.localIndex,
      macs: this.#localMacs,
    });
  }

  sessionDown(name: string, reason: string): void {
    const p = this.#pairs.get(name);
    if (!p) return;
    const wasFast = isFast(p.datapath);
    p.secrets = null;
    p.sessionSince = null;
    p.remote = null;
    p.probe = null;
    p.datapath = "pending";
    p.reason = `session down: ${reason}`;
    this.#o.log.info("session down", { peer: name, reason });
    this.#o.effects.sleeveChanged(p);
    if (wasFast) this.#o.effects.hostChanged(p, false);
  }

  /** A message from the pair's session; anything that is not ours is dropped and counted. */
  message(name: string, raw: ControlMessage): void {
    const p = this.#pairs.get(name);
    if (!p || !p.secrets) return;
    const msg = parsePairMessage(raw);
    if (!msg) {
      this.dropped++;
      this.#o.log.debug("unknown control message dropped", { peer: name, type: raw.type });
      return;
    }
    switch (msg.type) {
      case "caps":
        return this.#onCaps(p, msg);
      case "macs":
        p.macs = msg.macs;
        if (isFast(p.datapath)) this.#o.effects.hostChanged(p, false);
        return;
      case "hb-ack":
        return this.#onHeartbeatAck(p, msg.nonce);
      case "probe-result":
        if (p.probe && this.#decides(p)) {
          p.probe.remoteOk = msg.ok;
          // A failure report also ends a settled fast-datapath pair.
          this.#decide(p, !msg.ok);
        }
        return;
      case "datapath":
        if (!this.#decides(p) && isFast(p.datapath)) this.#setDatapath(p, msg.datapath, msg.reason);
        return;
    }
  }

  /** A VXLAN heartbeat arrived from overlay address `from`: echo its nonce to the sender. */
  heartbeatFrom(from: string, nonce: string): void {
    for (const n of this.#ctx.networks) {
      const m = n.members.find((m) => m.address === from && m.peer !== this.#o.localName);
      if (!m) continue;
      // Each nonce once, and a bounded number a second: replays cost the session nothing.
      if (
        this.#pairs.get(m.peer)?.secrets && this.#acks.admit(m.peer, nonce, this.#o.clock.now())
      ) {
        this.#o.effects.send(m.peer, { type: "hb-ack", nonce });
      }
      return;
    }
  }

  #onCaps(p: Pair, msg: Extract<PairMessage, { type: "caps" }>): void {
    p.remote = {
      cap: { capable: msg.fastdp, reason: msg.fastdpReason },
      aead: msg.aead,
      sleeveIndex: msg.sleeveIndex,
    };
    p.macs = msg.macs;
    const underlay = pairUnderlayReason(p.peer, p.sessionFrom);
    // Where the ends sit on the underlay comes first: no kernel could carry such a pair.
    const d = this.#shared(p.peer.name).length === 0
      ? { datapath: "sleeve" as const, reason: "no network in common (idle)" }
      : underlay
      ? { datapath: "sleeve" as const, reason: underlay }
      : pairStartDecision(this.#ctx.capability, p.remote.cap, p.peer.name);
    this.#setDatapath(p, d.datapath, d.reason);
  }

  #onHeartbeatAck(p: Pair, nonce: string): void {
    const sentAt = p.probe?.pending.take(nonce, this.#o.clock.now()) ?? null;
    if (!p.probe || sentAt === null) return;
    p.probe.lastAck = Math.max(p.probe.lastAck, sentAt);
    if (p.probe.localOk === true) return;
    p.probe.localOk = true;
    if (!this.#decides(p)) this.#o.effects.send(p.peer.name, { type: "probe-result", ok: true });
    this.#decide(p);
  }

  // ---- timers ----

  /** One timer period: heartbeats for probing and fast-datapath pairs, and their expiries. */
  tick(): void {
    const now = this.#o.clock.now();
    for (const p of this.#pairs.values()) {
      if (!p.probe || !p.secrets) continue;
      if (p.datapath === "probing") {
        this.#sendHeartbeats(p, Math.ceil(this.#o.timing.tickMs / this.#o.timing.probeIntervalMs));
        this.#expireProbe(p, now);
        this.#expireReport(p, now);
      } else if (p.datapath === "fastdp") {
        if (now - p.probe.lastSent >= this.#o.timing.fastdpHeartbeatMs) this.#sendHeartbeats(p, 1);
        this.#expireFastdp(p, now);
      }
    }
  }

  /** Probing for longer than the timeout without an answer: this direction failed. */
  #expireProbe(p: Pair, now: number): void {
    if (!p.probe || now - p.probe.started <= this.#o.timing.probeTimeoutMs) return;
    if (p.probe.localOk === null) {
      p.probe.localOk = false;
      if (!this.#decides(p)) this.#o.effects.send(p.peer.name, { type: "probe-result", ok: false });
    }
    this.#decide(p);
  }

  /** The decider never heard the peer's outcome: count it as failed rather than wait forever. */
  #expireReport(p: Pair, now: number): void {
    if (!p.probe || !this.#decides(p) || now - p.probe.started <= this.#o.timing.reportTimeoutMs) {
      return;
    }
    p.probe.remoteOk ??= false;
    this.#decide(p);
  }

  /** A fast-datapath pair whose heartbeats stopped being answered goes back to the sleeve. */
  #expireFastdp(p: Pair, now: number): void {
    const dead = this.#o.timing.fastdpDeadMs;
    if (!p.probe || now - p.probe.lastAck <= dead) return;
    const reason = `heartbeat through VXLAN lost for ${dead} ms`;
    if (this.#decides(p)) {
      this.#o.effects.send(p.peer.name, { type: "datapath", datapath: "sleeve", reason });
      this.#setDatapath(p, "sleeve", reason);
    } else if (p.probe.localOk !== false) {
      p.probe.localOk = false;
      this.#o.effects.send(p.peer.name, { type: "probe-result", ok: false });
    }
  }

  #sendHeartbeats(p: Pair, count: number): void {
    const [n] = this.#shared(p.peer.name);
    if (!n || !p.probe) return;
    const from = memberAddress(n, this.#o.localName);
    const to = memberAddress(n, p.peer.name);
    if (!from || !to) return;
    p.probe.lastSent = this.#o.clock.now();
    for (let i = 0; i < count; i++) {
      const send = async () => {
        const nonce = await this.#o.effects.heartbeat(from, to, p.peer.port);
        const probe = p.probe;
        if (!nonce || !probe) return;
        probe.pending.add(nonce, this.#o.clock.now());
      };
      if (i === 0) send();
      else this.#o.clock.after(i * this.#o.timing.probeIntervalMs, send);
    }
  }

  // ---- decisions ----

  #decides(p: Pair): boolean {
    return isDecider(this.#o.localName, p.peer.name);
  }

  /** The decider settles a probing pair as soon as the outcome is known. */
  #decide(p: Pair, force = false): void {
    if (!p.probe || !this.#decides(p)) return;
    if (p.datapath !== "probing" && !force) return;
    const timeout = this.#o.timing.probeTimeoutMs;
    const timedOut = this.#o.clock.now() - p.probe.started > timeout;
    const d = pairProbeDecision(p.probe.localOk, p.probe.remoteOk, timedOut, p.peer.name, timeout);
    if (!d || d.datapath === p.datapath) return;
    const settled = d.datapath === "fastdp" ? "fastdp" : "sleeve";
    this.#o.effects.send(p.peer.name, { type: "datapath", datapath: settled, reason: d.reason });
    this.#setDatapath(p, d.datapath, d.reason);
  }

  #setDatapath(p: Pair, datapath: PairDatapath, reason: string): void {
    const before = p.datapath;
    const now = this.#o.clock.now();
    p.datapath = datapath;
    p.reason = reason;
    if (datapath === "probing") {
      p.probe = {
        started: now,
        localOk: null,
        remoteOk: null,
        pending: new PendingHeartbeats(this.#o.timing.fastdpDeadMs, MAX_PENDING_NONCES),
        lastAck: 0,
        lastSent: 0,
      };
    } else if (datapath === "sleeve") {
      p.probe = null;
    } else if (datapath === "fastdp" && p.probe) {
      p.probe.lastAck = now;
    }
    if (before !== datapath) {
      const level = datapath === "sleeve" && before === "fastdp" ? "warn" : "info";
      this.#o.log.log(level, `datapath ${datapath}`, { peer: p.peer.name, why: reason });
    }
    this.#o.effects.sleeveChanged(p);
    if (isFast(before) !== isFast(datapath)) this.#o.effects.hostChanged(p, true);
  }

  #shared(peer: string): Network[] {
    return this.#ctx.networks.filter((n) => n.members.some((m) => m.peer === peer));
  }
}

/** Probing pairs already have their fast-datapath kernel state (the heartbeat needs it). */
function isFast(d: PairDatapath): boolean {
  return d === "fastdp" || d === "probing";
}

function newPair(peer: Peer): Pair {
  return {
    peer,
    secrets: null,
    sessionFrom: null,
    sessionSince: null,
    remote: null,
    localIndex: 0,
    datapath: "pending",
    reason: "no session yet",
    macs: {},
    probe: null,
  };
}

function memberAddress(n: Network, peer: string): string | undefined {
  return n.members.find((m) => m.peer === peer)?.address;
}

/**
 * Reads a negotiation message from the session; null for anything else. Fields are coerced as
 * earlier builds sent them (a missing reason is empty, an unknown AEAD is AES-GCM).
 */
export function parsePairMessage(msg: ControlMessage): PairMessage | null {
  switch (msg.type) {
    case "caps":
      return {
        type: "caps",
        fastdp: msg.fastdp === true,
        fastdpReason: typeof msg.fastdpReason === "string" ? msg.fastdpReason : "",
        aead: msg.aead === "chacha20-poly1305" ? "chacha20-poly1305" : "aes-256-gcm",
        sleeveIndex: Number(msg.sleeveIndex) >>> 0,
        macs: sanitizeMacs(msg.macs),
      };
    case "macs":
      return { type: "macs", macs: sanitizeMacs(msg.macs) };
    case "hb-ack":
      return typeof msg.nonce === "string" ? { type: "hb-ack", nonce: msg.nonce } : null;
    case "probe-result":
      return { type: "probe-result", ok: msg.ok === true };
    case "datapath":
      return {
        type: "datapath",
        datapath: msg.datapath === "fastdp" ? "fastdp" : "sleeve",
        reason: typeof msg.reason === "string" ? msg.reason : "",
      };
    default:
      return null;
  }
}

/** MAC lists from the network are data: keep only well-formed ones, bounded. */
export function sanitizeMacs(input: unknown): BridgeMacs {
  const out: BridgeMacs = {};
  if (!input || typeof input !== "object" || Array.isArray(input)) return out;
  for (const [vni, macs] of Object.entries(input).slice(0, MAX_ANNOUNCED_NETWORKS)) {
    if (!/^\d{1,8}$/.test(vni) || !Array.isArray(macs)) continue;
    out[vni] = macs.filter((m): m is string =>
      typeof m === "string" && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(m)
    ).slice(0, MAX_MACS_PER_NETWORK);
  }
  return out;
}
