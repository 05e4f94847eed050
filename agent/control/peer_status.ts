/**
 * What `status` shows of the control plane, typed end to end: per peer its state, session and
 * counters; in all, the bad input dropped by reason and the connections still handshaking.
 *
 * @module
 */

import type { PeerCounters, PeerRecord, PeerStateName } from "./peer_record.ts";
import { rekeyStatus } from "./session_rekey.ts";
import type { DropReason } from "./wire_error.ts";

/** One peer in `status()`. */
export interface PeerStatus {
  state: PeerStateName;
  /** `address:port` from the config. */
  address: string;
  /** When the state last changed (ms since the epoch). */
  since: number;
  sinceSeconds: number;
  /** Seconds since the current session's handshake; null without a session. */
  handshakeAgeSeconds: number | null;
  /** Last heartbeat round trip; null before the first. */
  rttMs: number | null;
  sessionId: number | null;
  authenticated: boolean | null;
  /** Which of this box's passwords the session's keys come from; null without a session. */
  password?: "current" | "previous" | null;
  /** Seconds since the keys in use were made (handshake or last rekey); null without one. */
  keyAgeSeconds?: number | null;
  /** Rekeys of the current session. */
  rekeys?: number;
  counters: PeerCounters;
  lastError: string | null;
}

/** What `PeerConnections.status()` returns. */
export interface PeerConnectionsStatus {
  peers: Record<string, PeerStatus>;
  /** Bad input dropped, by reason. */
  drops: Record<DropReason, number>;
  /** Accepted connections still handshaking. */
  pendingHandshakes: number;
  /** Confirmed connections closed because the pair already had a session (simultaneous dial). */
  duplicatesClosed: number;
}

/** The status of one peer at time `now`. */
export function peerStatus(r: PeerRecord, now: number): PeerStatus {
  return {
    state: r.state,
    address: `${r.endpoint.address}:${r.endpoint.port}`,
    since: r.since,
    sinceSeconds: Math.round((now - r.since) / 1000),
    handshakeAgeSeconds: r.session ? Math.round((now - r.session.establishedAt) / 1000) : null,
    rttMs: r.rttMs === null ? null : Math.round(r.rttMs * 1000) / 1000,
    sessionId: r.session?.secrets.id ?? null,
    authenticated: r.session?.secrets.authenticated ?? null,
    ...(r.session
      ? rekeyStatus(r.session, now)
      : { password: null, keyAgeSeconds: null, rekeys: 0 }),
    counters: { ...r.counters },
    lastError: r.lastError,
  };
}
