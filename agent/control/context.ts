/**
 * What the parts of the connection manager share: the resolved options, the peer table, the
 * drop counters, the owner's callbacks and the bookkeeping of open streams and running tasks.
 * One object built by `PeerConnections`, handed to the dialer, the acceptor, the session
 * agreement and the session layer, so that each of them is a file of its own.
 *
 * @module
 */

import type { DropCounter } from "./drop_counter.ts";
import type { HandshakeRateLimiter } from "./handshake_rate_limit.ts";
import type { Logger } from "./logger.ts";
import type { PeerConnectionsEvents, ResolvedOptions } from "./options.ts";
import type { PeerRecord, PeerTable } from "./peer_record.ts";
import type { ByteStream } from "./tcp_stream.ts";

/** The shared state of one connection manager. */
export interface ControlContext {
  readonly o: ResolvedOptions;
  readonly log: Logger;
  readonly drops: DropCounter;
  readonly peers: PeerTable;
  readonly events: PeerConnectionsEvents;
  /** Handshakes that may start their key exchange, per source and in total. */
  readonly handshakeRate: HandshakeRateLimiter;
  /** Aborted by close(): pending dials give up. */
  readonly signal: AbortSignal;
  /** Every stream not yet closed, so close() can close them. */
  readonly streams: Set<ByteStream>;
  /** Confirmed connections closed because the pair already had a session. */
  duplicates: number;
  closed(): boolean;
  /** Keeps `p` until it settles, so close() can wait for it. */
  track<T>(p: Promise<T>): Promise<T>;
  /** Dials `rec` after `delayMs`, unless it is up, dialling or already scheduled. */
  scheduleDial(rec: PeerRecord, delayMs: number): void;
  /** Forgets a pending dial of `rec` (its session is up). */
  cancelDial(rec: PeerRecord): void;
  /** Whether this side decides for the pair with `peer`. */
  decides(peer: string): boolean;
  /** This box's heartbeat period now: the base, stretched for a large fleet (heartbeat_period.ts). */
  heartbeatMs(): number;
}

/** The text of an error of any kind. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
