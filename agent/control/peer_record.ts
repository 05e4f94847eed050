/**
 * What the manager remembers per peer: its state, its current session, its dial bookkeeping and
 * its counters; and the table of peers, indexed by name and by canonical address.
 *
 * @module
 */

import type { FrameReader } from "./frame_reader.ts";
import type { PeerEndpoint } from "./options.ts";
import { canonicalAddress } from "./peer_address.ts";
import type { SecureChannel } from "./secure_channel.ts";
import type { SessionSecrets } from "./session_keys.ts";
import type { ByteStream } from "./tcp_stream.ts";

/** Where a peer stands. */
export type PeerStateName =
  | "connecting"
  | "handshaking"
  | "up"
  | "down"
  | "auth-failed"
  | "version-mismatch";

/** Message and byte counters of one peer, summed over its sessions. */
export interface PeerCounters {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** One established session: the connection the pair agreed on. */
export interface Session {
  stream: ByteStream;
  reader: FrameReader;
  channel: SecureChannel;
  secrets: SessionSecrets;
  establishedAt: number;
  lastRx: number;
  /**
   * When a frame other than a heartbeat or its ack last went each way (`heartbeatDue` in
   * session.ts): gossip, datapath negotiation, relay and rekey messages.
   */
  lastOtherRx: number;
  lastOtherTx: number;
  closed: boolean;
  /**
   * Sealed frames not yet handed to the stream, in order (`sendOn` in session.ts). The writer
   * takes as many as fit in `WRITE_BATCH_BYTES` at once, so frames sent in one turn (a session's
   * first messages, a rekey step with its datapath changes) leave in one write: one syscall, one
   * segment, one wake-up of the peer's reader instead of one each.
   */
  outbox: Uint8Array[];
  /** A write of the outbox is under way (or scheduled); frames never interleave. */
  writing: boolean;
  /** Bytes in the outbox and in the write under way (bounded by `maxQueuedBytes`). */
  queuedBytes: number;
  /** Our heartbeat ticks in a row that found the session silent since the one before. */
  silentTicks: number;
  /**
   * The heartbeat period the deciding peer says it uses (`heartbeat_period.ts`); null until
   * its first heartbeat, and on the deciding side.
   */
  peerHeartbeatMs: number | null;
  /**
   * On the deciding side: the period our last heartbeat announced (null before the first), and
   * how many heartbeat ticks in a row went without one because the session carried other frames
   * both ways (`heartbeatDue` in session.ts).
   */
  announcedMs: number | null;
  skippedHeartbeats: number;
  /**
   * The first hop of a session carried by relays (#16, agent/relay/), or null for a direct one.
   * A relayed session leaves the direct dials running: a direct session replaces it.
   */
  via: string | null;
}

/** What the peer's own dial is doing while it has one (null: none is running). */
export type DialStep = "connect" | "handshake";

/** How often the pair's sessions came and went, and what it took (for status and the bench). */
export interface PeerStats {
  /** Dials started (TCP connects attempted). */
  dials: number;
  /** Handshakes run on connections in either direction. */
  handshakes: number;
  sessionsUp: number;
  sessionsDown: number;
}

/** Everything known about one configured peer. */
export interface PeerRecord {
  endpoint: PeerEndpoint;
  /**
   * Where it is admitted from by address: its fixed address, or for a DNS-named peer the
   * address its name gave at our last dial ("" until then, and always for a dial-out-only one).
   */
  canonical: string;
  state: PeerStateName;
  since: number;
  session: Session | null;
  rttMs: number | null;
  lastError: string | null;
  /** Failed dials since the last session (drives the backoff). */
  attempts: number;
  /**
   * Of those, the dials whose TCP connect got no answer (timed out, unreachable, reset, name not
   * resolved; a refusal is an answer): what a blocked path looks like. A connect that is
   * answered and a handshake that then runs out of time is a slow box, not a blocked path.
   */
  unreached: number;
  /** Set while our dial runs: which step it is in. */
  dialStep: DialStep | null;
  /** Accepted connections that named this peer in their HELLO and are still handshaking. */
  inbound: number;
  /** When the peer last opened a connection to us (0: never); a live peer is dialling us. */
  lastInboundAt: number;
  /** The last dial was put off because the peer was connecting to us. */
  deferred: boolean;
  /** A failure of this episode (since the last session) was logged at warn already. */
  warned: boolean;
  removed: boolean;
  counters: PeerCounters;
  stats: PeerStats;
}

/** A fresh record: connecting, no session. */
export function newPeerRecord(endpoint: PeerEndpoint, now = Date.now()): PeerRecord {
  return {
    endpoint,
    canonical: endpoint.address ? canonicalAddress(endpoint.address) : "",
    state: "connecting",
    since: now,
    session: null,
    rttMs: null,
    lastError: null,
    attempts: 0,
    unreached: 0,
    dialStep: null,
    inbound: 0,
    lastInboundAt: 0,
    deferred: false,
    warned: false,
    removed: false,
    counters: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    stats: { dials: 0, handshakes: 0, sessionsUp: 0, sessionsDown: 0 },
  };
}

/** Moves the record to `state`, noting when, if it is a change. */
export function setState(rec: PeerRecord, state: PeerStateName): void {
  if (rec.state === state) return;
  rec.state = state;
  rec.since = Date.now();
}

/** True when the peer has a direct session (a relayed one keeps direct dials going, #16). */
export function hasDirectSession(rec: PeerRecord): boolean {
  return rec.session !== null && rec.session.via === null;
}

/** True when we can dial the peer: it has a fixed address or a DNS name (#15). */
export function dialable(e: PeerEndpoint): boolean {
  return e.address !== "" || (e.host ?? "") !== "";
}

/**
 * True when the peer may connect from an address no peer is configured at: it has no fixed
 * address and carries a key, so its name is bound only by proof of that key (#15).
 */
export function roaming(e: PeerEndpoint): boolean {
  return e.address === "" && (e.key ?? null) !== null;
}

/** States that describe a configuration problem outlive transient connecting/handshaking. */
export function stickyState(rec: PeerRecord): PeerStateName | null {
  return rec.state === "auth-failed" || rec.state === "version-mismatch" ? rec.state : null;
}

/** The configured peers, by name and by canonical address (several names may share one). */
export class PeerTable {
  readonly #byName = new Map<string, PeerRecord>();
  readonly #byAddress = new Map<string, Set<string>>();
  #roaming = 0;

  get(name: string): PeerRecord | undefined {
    return this.#byName.get(name);
  }

  values(): IterableIterator<PeerRecord> {
    return this.#byName.values();
  }

  entries(): IterableIterator<[string, PeerRecord]> {
    return this.#byName.entries();
  }

  add(endpoint: PeerEndpoint): PeerRecord {
    const rec = newPeerRecord(endpoint);
    this.#byName.set(endpoint.name, rec);
    this.#index(rec);
    if (roaming(endpoint)) this.#roaming++;
    return rec;
  }

  delete(rec: PeerRecord): void {
    this.#byName.delete(rec.endpoint.name);
    this.#unindex(rec);
    if (roaming(rec.endpoint)) this.#roaming--;
  }

  /** A DNS-named peer's name now gives `address` (a dial resolved it): admitted from there. */
  rebind(rec: PeerRecord, address: string): void {
    this.#unindex(rec);
    rec.canonical = canonicalAddress(address);
    this.#index(rec);
  }

  /** How many peers may connect from any address (keyed, no fixed address). */
  get roamingCount(): number {
    return this.#roaming;
  }

  #index(rec: PeerRecord): void {
    if (!rec.canonical) return;
    let names = this.#byAddress.get(rec.canonical);
    if (!names) this.#byAddress.set(rec.canonical, names = new Set());
    names.add(rec.endpoint.name);
  }

  #unindex(rec: PeerRecord): void {
    const names = this.#byAddress.get(rec.canonical);
    names?.delete(rec.endpoint.name);
    if (names?.size === 0) this.#byAddress.delete(rec.canonical);
  }

  /** How many configured peers have this (canonical) address. */
  countAt(canonical: string): number {
    return this.#byAddress.get(canonical)?.size ?? 0;
  }

  /** The one peer at `address`, or undefined when none or several share it. */
  onlyPeerAt(address: string): PeerRecord | undefined {
    const names = this.#byAddress.get(canonicalAddress(address));
    return names?.size === 1 ? this.#byName.get([...names][0]) : undefined;
  }
}
