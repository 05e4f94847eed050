/**
 * What `status` shows of the control plane, typed end to end: per peer its state, session and
 * counters; in all, the bad input dropped by reason and the connections still handshaking.
 *
 * @module
 */

import type { DialPhase } from "./dial_queue.ts";
import {
  dialable,
  type PeerCounters,
  type PeerRecord,
  type PeerStateName,
  type PeerStats,
} from "./peer_record.ts";
import { rekeyStatus } from "./session_rekey.ts";
import type { DropReason } from "./wire_error.ts";

/**
 * What a peer without a session is waiting for:
 * - `peer`: the peer decides for the pair and is expected to dial us (we dial later, as a
 *   fallback, at `nextDialAt`);
 * - `dial`: our first dial is due at `nextDialAt`;
 * - `backoff`: our last attempt failed (`lastError`); the next is due at `nextDialAt`;
 * - `dial-slot`: our dial is due and waits for a free slot (too many dials at once);
 * - `connect`, `handshake`: our dial is connecting, or its handshake runs;
 * - `inbound-handshake`: the peer's connection to us is handshaking;
 * - `nothing`: the session is up.
 */
export type PeerWait =
  | "nothing"
  | "peer"
  | "dial"
  | "backoff"
  | "dial-slot"
  | "connect"
  | "handshake"
  | "inbound-handshake";

/** One peer in `status()`. */
export interface PeerStatus {
  state: PeerStateName;
  /** What the peer waits for; see {@link PeerWait}. */
  waitingFor: PeerWait;
  /** When our next dial is due (ms since the epoch), if one is scheduled. */
  nextDialAt: number | null;
  /** Seconds until then (rounded up; 0 when due), if one is scheduled. */
  nextDialInSeconds: number | null;
  /** Failed dials since the last session. */
  failedAttempts: number;
  /** Of those, dials whose connect got no answer (a blocked path's sign; relays use it, #16). */
  unreachedAttempts: number;
  /** `address:port` from the config. */
  address: string;
  /** This box can dial the peer (the config gives it an address or a DNS name). */
  dialable: boolean;
  /** When the state last changed (ms since the epoch). */
  since: number;
  sinceSeconds: number;
  /** Seconds since the current session's handshake; null without a session. */
  handshakeAgeSeconds: number | null;
  /** Last heartbeat round trip; null before the first. */
  rttMs: number | null;
  /** Ms since the session last received anything; null without a session (relays use it, #16). */
  silentMs?: number | null;
  /** The session's heartbeat period, ms (heartbeat_period.ts); null without a session. */
  heartbeatMs?: number | null;
  sessionId: number | null;
  /** The first relay of a relayed session (#16); null for a direct one or none. */
  via?: string | null;
  authenticated: boolean | null;
  /** Which of this box's passwords the session's keys come from; null without a session. */
  password?: "current" | "previous" | null;
  /** Seconds since the keys in use were made (handshake or last rekey); null without one. */
  keyAgeSeconds?: number | null;
  /** Rekeys of the current session. */
  rekeys?: number;
  counters: PeerCounters;
  /** Dials, handshakes (either direction) and sessions up and down since start. */
  dials: number;
  handshakes: number;
  sessionsUp: number;
  sessionsDown: number;
  lastError: string | null;
}

/** How many peers are in each state. */
export type PeerStateCounts = Record<PeerStateName, number>;

/** Our dial slots: allowed at once now (the congestion window), running, and due but waiting. */
export interface DialSlots {
  window: number;
  running: number;
  queued: number;
}

/** What `PeerConnections.status()` returns. */
export interface PeerConnectionsStatus {
  /** Peers by state, so a big fleet can be summed up in one line. */
  summary: PeerStateCounts;
  dialSlots: DialSlots;
  peers: Record<string, PeerStatus>;
  /** Bad input dropped, by reason. */
  drops: Record<DropReason, number>;
  /** Accepted connections still handshaking. */
  pendingHandshakes: number;
  /** Confirmed connections closed because the pair already had a session (simultaneous dial). */
  duplicatesClosed: number;
}

/** The dial of a peer as the dial queue sees it (null: none pending or running). */
export type DialView = { phase: DialPhase; due: number | null } | null;

/** What the peer waits for, from its record and its dial. */
export function peerWait(r: PeerRecord, dial: DialView, decides: boolean): PeerWait {
  if (r.session) return "nothing";
  if (r.dialStep) return r.dialStep;
  if (r.inbound > 0) return "inbound-handshake";
  if (dial?.phase === "queued" || dial?.phase === "running") return "dial-slot";
  if (r.attempts > 0) return "backoff";
  // A peer without an address (dial-out only, #15) is never dialled: it dials us.
  return decides && dialable(r.endpoint) ? "dial" : "peer";
}

/** The status of one peer at time `now`. */
export function peerStatus(
  r: PeerRecord,
  now: number,
  dial: DialView,
  decides: boolean,
  heartbeatMs: number | null,
): PeerStatus {
  const due = r.session ? null : dial?.due ?? null;
  const stats: PeerStats = r.stats;
  return {
    state: r.state,
    waitingFor: peerWait(r, dial, decides),
    nextDialAt: due,
    nextDialInSeconds: due === null ? null : Math.max(0, Math.ceil((due - now) / 1000)),
    failedAttempts: r.session ? 0 : r.attempts,
    unreachedAttempts: r.session ? 0 : r.unreached,
    address: r.endpoint.address
      ? `${r.endpoint.address}:${r.endpoint.port}`
      : r.endpoint.host
      ? `${r.endpoint.host}:${r.endpoint.port}`
      : "dial-out only",
    dialable: dialable(r.endpoint),
    since: r.since,
    sinceSeconds: Math.round((now - r.since) / 1000),
    handshakeAgeSeconds: r.session ? Math.round((now - r.session.establishedAt) / 1000) : null,
    rttMs: r.rttMs === null ? null : Math.round(r.rttMs * 1000) / 1000,
    silentMs: r.session ? Math.max(0, now - r.session.lastRx) : null,
    heartbeatMs,
    sessionId: r.session?.secrets.id ?? null,
    via: r.session?.via ?? null,
    authenticated: r.session?.secrets.authenticated ?? null,
    ...(r.session
      ? rekeyStatus(r.session, now)
      : { password: null, keyAgeSeconds: null, rekeys: 0 }),
    counters: { ...r.counters },
    dials: stats.dials,
    handshakes: stats.handshakes,
    sessionsUp: stats.sessionsUp,
    sessionsDown: stats.sessionsDown,
    lastError: r.lastError,
  };
}

/** A zero count for every state. */
export function emptyStateCounts(): PeerStateCounts {
  return {
    connecting: 0,
    handshaking: 0,
    up: 0,
    down: 0,
    "auth-failed": 0,
    "version-mismatch": 0,
  };
}
