/**
 * Options of the connection manager, their named defaults, and their validation: a bad option
 * is an error that names it.
 *
 * @module
 */

import {
  type NodeKeyPair,
  PROTOCOL_MAX_VERSION,
  PROTOCOL_MIN_VERSION,
  type VersionRange,
} from "./handshake.ts";
import type { HandshakeRateLimitOptions } from "./handshake_rate_limit.ts";
import { stretchedSilenceMs } from "./heartbeat_period.ts";
import { type RekeyAction, type RekeyOptions, resolveRekeyOptions } from "./rekey.ts";
import type { Logger } from "./logger.ts";
import { resolveHost } from "./peer_address.ts";
import type { ControlMessage } from "./secure_channel.ts";
import type { SessionSecrets } from "./session_keys.ts";

/** A peer this box may talk to (from weave.yaml). */
export interface PeerEndpoint {
  name: string;
  /**
   * Its fixed IP address: dialled there, and admitted only from there unless it has a key.
   * Empty for a peer given by DNS name (`host`) or without any address (dial-out only: never
   * dialled; admitted from anywhere, bound to its name only by proof of its key).
   */
  address: string;
  /** A DNS name resolved again at every dial (#15); `address` is empty then. */
  host?: string;
  port: number;
  /** The peer's node key (weave.yaml `key:`): then it must prove it in every handshake. */
  key?: Uint8Array | null;
}

/** A session came up: the pair agreed on this connection. */
export interface SessionUpEvent {
  peer: string;
  secrets: SessionSecrets;
  remoteAddress: string;
  /** The first relay of a relayed session (#16); null or absent: direct. */
  via?: string | null;
}

/** A session ended (the peer is redialled unless it was removed). */
export interface SessionDownEvent {
  peer: string;
  reason: string;
}

/** A sealed message arrived (every type except the heartbeats handled here). */
export interface MessageEvent {
  peer: string;
  msg: ControlMessage;
}

/** Key confirmation with a configured peer failed: most likely a password mismatch. */
export interface AuthFailedEvent {
  peer: string;
  address: string;
}

/**
 * A rekey step the datapaths must follow (#14, make-before-break): `install-rx` accept the new
 * per-purpose keys too; `switch-tx` send under them; `drop-old` remove and wipe the previous
 * epoch's. (Nothing is installed for an exchange that can still give up: no step removes keys
 * of an epoch never switched to.)
 */
export interface SessionKeysEvent {
  peer: string;
  /** `SessionSecrets.id` of the session being rekeyed. */
  session: number;
  action: Extract<RekeyAction, { type: "install-rx" | "switch-tx" | "drop-old" }>;
}

/** What the manager tells its owner; every callback is optional. */
export interface PeerConnectionsEvents {
  onSessionUp?: (e: SessionUpEvent) => void;
  onSessionDown?: (e: SessionDownEvent) => void;
  onMessage?: (e: MessageEvent) => void;
  onAuthFailed?: (e: AuthFailedEvent) => void;
  /**
   * A promise returned for `install-rx` holds back what would let the peer send under the new
   * keys (the next rekey step, the switch) until it settles: make-before-break.
   */
  onSessionKeys?: (e: SessionKeysEvent) => void | Promise<void>;
}

/**
 * Heartbeat period: the base, for a box with up to `FULL_RATE_PEERS` (40) peers; a larger
 * fleet stretches it (heartbeat_period.ts: 5 s at 100 peers, at most 15 s).
 */
export const DEFAULT_HEARTBEAT_MS = 2000;
/**
 * A session with nothing received for this long is down (at the base heartbeat period; it
 * stretches with the period). Six heartbeats: a box starved of CPU
 * (a fleet of fifty starting at once on two cores) misses several in a row, and ending its
 * sessions for that only adds handshakes to the overload. Routing does not wait for it: a direct
 * session silent for `RELAY_TIMING.silentAfterMs` (4.5 s) is relayed around meanwhile.
 */
export const DEFAULT_DEAD_AFTER_MS = 12_000;
/**
 * Connect plus handshake must finish within this, counted from the moment the dial leaves the
 * queue (or the connection is accepted), never from when it was scheduled; while the peer keeps
 * answering, from its last bytes, up to three times this in all (`handshakeExpiry` in
 * session_agreement.ts).
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** The TCP connect alone must finish within this (an unreachable box must not hold a slot). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
/** First reconnect delay; doubles per failed attempt. */
export const DEFAULT_BACKOFF_BASE_MS = 250;
/** Reconnect delay cap. */
export const DEFAULT_BACKOFF_MAX_MS = 10_000;
/**
 * Reconnect delay cap while the peer's box refuses the connection (its agent is not listening
 * yet): a refused connect costs one SYN and one RST, and a booting fleet wants to find the
 * newcomer soon.
 */
export const DEFAULT_REFUSED_BACKOFF_MAX_MS = 2000;
/**
 * The side that does not decide dials only as a fallback, after this long (plus up to as much
 * jitter) without a session and without the peer connecting: normally the decider's dial makes
 * the pair's one session, and no twin has to be made and closed.
 */
export const DEFAULT_DEFER_DIAL_MS = 4000;
/** The deciding side spreads its first dials over this much time. */
export const DEFAULT_DIAL_JITTER_MS = 250;
/** Our own dials running at once, at most (the ceiling of the congestion window). */
export const DEFAULT_MAX_CONCURRENT_DIALS = 8;
/** Least time between two of our dial starts. */
export const DEFAULT_DIAL_PACE_MS = 10;
/** Accepted, unauthenticated connections at once, in total. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;
/** Accepted, unauthenticated connections at once, from one source address. */
export const DEFAULT_MAX_PENDING_PER_SOURCE = 8;
/** Bytes of queued outgoing frames after which a session is ended. */
export const DEFAULT_MAX_QUEUED_BYTES = 1 << 20;

/** Construction options of PeerConnections. */
export interface PeerConnectionsOptions extends PeerConnectionsEvents {
  localName: string;
  /** Address to listen on; also the source address of our dials unless it is a wildcard. */
  listenAddress: string;
  listenPort: number;
  peers: PeerEndpoint[];
  /**
   * This box has no address peers can dial (dial-out only, behind NAT, #15): it dials every
   * dialable peer promptly, whichever side decides for the pair (default false).
   */
  dialOutOnly?: boolean;
  /**
   * Resolves a peer's DNS name at each dial (default `resolveHost`: the system resolver, hosts
   * file included); never cached between dials.
   */
  resolve?: (host: string) => Promise<string[]>;
  /** Null: sessions are unauthenticated (the caller warns). */
  password: Uint8Array | null;
  /** The previous password during a rollout (weave.yaml `password.previous`; default none). */
  previousPassword?: Uint8Array | null;
  /** This box's node key (`key_file:`; default none: it proves no key). */
  nodeKey?: NodeKeyPair | null;
  /** Per-source and total handshake rate limit (defaults: `HANDSHAKE_RATE_DEFAULTS`). */
  handshakeRate?: HandshakeRateLimitOptions;
  /** Periodic rekey of live sessions (defaults `REKEY_DEFAULTS`: 120 s / 180 s); false: off. */
  rekey?: RekeyOptions | false;
  logger: Logger;
  /** Base heartbeat period (default {@link DEFAULT_HEARTBEAT_MS}); stretched for large fleets. */
  heartbeatMs?: number;
  /** A session silent this long is down (default {@link DEFAULT_DEAD_AFTER_MS}). */
  deadAfterMs?: number;
  /** Connect plus handshake must finish within this (default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}). */
  handshakeTimeoutMs?: number;
  /** TCP connect deadline (default {@link DEFAULT_CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number;
  /** First reconnect delay (default {@link DEFAULT_BACKOFF_BASE_MS}); doubles per failure. */
  backoffBaseMs?: number;
  /** Reconnect delay cap (default {@link DEFAULT_BACKOFF_MAX_MS}). */
  backoffMaxMs?: number;
  /** Reconnect delay cap while connects are refused (default {@link DEFAULT_REFUSED_BACKOFF_MAX_MS}). */
  refusedBackoffMaxMs?: number;
  /**
   * The side with the larger name waits this long (plus up to as much jitter) before dialling,
   * so usually only the deciding side's connection is made (default {@link DEFAULT_DEFER_DIAL_MS};
   * 0 dials at once).
   */
  deferDialMs?: number;
  /** The decider's first dials are spread over this (default {@link DEFAULT_DIAL_JITTER_MS}). */
  dialJitterMs?: number;
  /** Own dials at once, at most (default {@link DEFAULT_MAX_CONCURRENT_DIALS}; ≥ 1). */
  maxConcurrentDials?: number;
  /** Least time between two dial starts (default {@link DEFAULT_DIAL_PACE_MS}). */
  dialPaceMs?: number;
  /** Accepted, unauthenticated connections at once, in total (default 64). */
  maxPendingHandshakes?: number;
  /** Accepted, unauthenticated connections at once, from one source (default 8). */
  maxPendingPerSource?: number;
  /** Bytes of queued outgoing frames after which a session is ended (default 1 MiB). */
  maxQueuedBytes?: number;
  /** Protocol versions spoken (default: this build's); tests pretend to be other builds. */
  versions?: VersionRange;
  /**
   * How late this process's timers run now, ms (default: always 0). Connect and handshake
   * deadlines and the silence that ends a session grow by {@link HANDSHAKE_LAG_FACTOR} times
   * it, at most {@link MAX_HANDSHAKE_STRETCH_MS}: on a starved box a deadline that fires throws
   * away work that was only slow, and the retry adds to the load.
   */
  loopLag?: () => number;
}

/** Deadlines grow by this many times the loop lag (a handshake: three messages, both ends). */
export const HANDSHAKE_LAG_FACTOR = 4;
/** ... by at most this much. */
export const MAX_HANDSHAKE_STRETCH_MS = 20_000;

/** The handshake deadline now: the configured one, stretched while timers run late here. */
export function handshakeDeadlineMs(
  o: Pick<ResolvedOptions, "handshakeTimeoutMs" | "loopLag">,
): number {
  return o.handshakeTimeoutMs + lagStretchMs(o);
}

/**
 * The TCP connect deadline now, stretched likewise: the kernel completes a connect without
 * either agent, but a starved box's timer may fire before it hears so, and the peer is then
 * left with an accepted connection that closes before its first byte.
 */
export function connectDeadlineMs(
  o: Pick<ResolvedOptions, "connectTimeoutMs" | "loopLag">,
): number {
  return o.connectTimeoutMs + lagStretchMs(o);
}

/**
 * Silence that ends a session now: `deadAfterMs` stretched for the session's heartbeat period
 * (`periodMs`, heartbeat_period.ts), and likewise for lag (own slowness is no death).
 */
export function deadAfterNowMs(
  o: Pick<ResolvedOptions, "deadAfterMs" | "heartbeatMs" | "loopLag">,
  periodMs: number,
): number {
  return stretchedSilenceMs(o.deadAfterMs, periodMs, o.heartbeatMs) + lagStretchMs(o);
}

/**
 * How much every deadline of the control plane grows now for this box's own lag: connects,
 * handshakes, silences, and the answer a rekey exchange waits for (rekey.ts).
 */
export function lagStretchMs(o: Pick<ResolvedOptions, "loopLag">): number {
  return Math.min(HANDSHAKE_LAG_FACTOR * o.loopLag(), MAX_HANDSHAKE_STRETCH_MS);
}

/** The options with every default filled in. */
export type ResolvedOptions = Required<Omit<PeerConnectionsOptions, keyof PeerConnectionsEvents>>;

const NUMERIC = [
  "heartbeatMs",
  "deadAfterMs",
  "handshakeTimeoutMs",
  "connectTimeoutMs",
  "backoffBaseMs",
  "backoffMaxMs",
  "refusedBackoffMaxMs",
  "deferDialMs",
  "dialJitterMs",
  "maxConcurrentDials",
  "dialPaceMs",
  "maxPendingHandshakes",
  "maxPendingPerSource",
  "maxQueuedBytes",
] as const;

/** Fills in the defaults; throws a RangeError naming the first bad option. */
export function resolveOptions(o: PeerConnectionsOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    localName: o.localName,
    listenAddress: o.listenAddress,
    listenPort: o.listenPort,
    peers: o.peers,
    dialOutOnly: o.dialOutOnly ?? false,
    resolve: o.resolve ?? resolveHost,
    password: o.password,
    previousPassword: o.previousPassword ?? null,
    nodeKey: o.nodeKey ?? null,
    handshakeRate: o.handshakeRate ?? {},
    rekey: o.rekey === false ? false : resolveRekeyOptions(o.rekey ?? {}),
    logger: o.logger,
    heartbeatMs: o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    deadAfterMs: o.deadAfterMs ?? DEFAULT_DEAD_AFTER_MS,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    connectTimeoutMs: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    backoffBaseMs: o.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS,
    backoffMaxMs: o.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS,
    refusedBackoffMaxMs: o.refusedBackoffMaxMs ?? DEFAULT_REFUSED_BACKOFF_MAX_MS,
    deferDialMs: o.deferDialMs ?? DEFAULT_DEFER_DIAL_MS,
    dialJitterMs: o.dialJitterMs ?? DEFAULT_DIAL_JITTER_MS,
    maxConcurrentDials: o.maxConcurrentDials ?? DEFAULT_MAX_CONCURRENT_DIALS,
    dialPaceMs: o.dialPaceMs ?? DEFAULT_DIAL_PACE_MS,
    maxPendingHandshakes: o.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES,
    maxPendingPerSource: o.maxPendingPerSource ?? DEFAULT_MAX_PENDING_PER_SOURCE,
    maxQueuedBytes: o.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
    versions: o.versions ?? { min: PROTOCOL_MIN_VERSION, max: PROTOCOL_MAX_VERSION },
    loopLag: o.loopLag ?? (() => 0),
  };
  for (const k of NUMERIC) {
    const v = r[k];
    if (!Number.isFinite(v) || v < 0) {
      throw new RangeError(`PeerConnections option ${k} must be a number ≥ 0, got ${v}`);
    }
  }
  if (r.maxConcurrentDials < 1) {
    throw new RangeError(
      `PeerConnections option maxConcurrentDials must be ≥ 1, got ${r.maxConcurrentDials}`,
    );
  }
  if (r.backoffMaxMs < r.backoffBaseMs) {
    throw new RangeError(
      `PeerConnections option backoffMaxMs (${r.backoffMaxMs}) is below backoffBaseMs (${r.backoffBaseMs})`,
    );
  }
  return r;
}
