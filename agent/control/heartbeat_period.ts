/**
 * How often a session is heartbeated, and how long it may then stay silent (#12).
 *
 * A heartbeat and its ack are one frame each way per pair and period, and on this runtime a
 * control frame costs about a quarter of a millisecond of CPU to send or to receive, most of it
 * the wake-up rather than our code (measured: a two-box lab heartbeating every 20 ms). At a
 * fixed 2 s a box with 99 peers spent about 0.8 CPU s a minute on heartbeats alone, a hundred
 * such boxes more than two cores. So a box heartbeats each peer at the base period up to
 * {@link FULL_RATE_PEERS} peers, and beyond that stretches the period so that it sends no more
 * than that many heartbeats per base period, up to {@link MAX_HEARTBEAT_FACTOR} times the base
 * (2 s up to 40 peers, 5 s at 100, 15 s from 300 on). The silence that ends a session and the
 * silence after which relays route around it stretch by the same factor.
 *
 * Only the deciding side of a pair sends heartbeats, so the pair's period is the decider's: it
 * says its period in each heartbeat (`p`, ms), and the other side, whose own fleet may be much
 * smaller (a hub and its spokes), judges the session's silence by that period rather than its
 * own. An announced period outside [base, base × {@link MAX_HEARTBEAT_FACTOR}] is clamped into
 * it: a peer cannot make us keep a dead session for longer than that.
 *
 * @module
 */

/** Peers a box heartbeats at the base period; beyond them the period grows. */
export const FULL_RATE_PEERS = 40;
/** The period grows to at most this many times the base (15 s for the 2 s default). */
export const MAX_HEARTBEAT_FACTOR = 7.5;

/** This box's heartbeat period with `peers` peers, for base period `baseMs`. */
export function heartbeatPeriodMs(baseMs: number, peers: number): number {
  const stretched = baseMs * Math.max(1, peers / FULL_RATE_PEERS);
  return Math.round(Math.min(stretched, baseMs * MAX_HEARTBEAT_FACTOR));
}

/**
 * The period a peer's heartbeat announces, clamped to [base, base × max factor]; the base for
 * a heartbeat that announces none (a build before #12's stretch) or nothing numeric.
 */
export function announcedPeriodMs(announced: unknown, baseMs: number): number {
  if (typeof announced !== "number" || !Number.isFinite(announced)) return baseMs;
  return Math.round(Math.min(Math.max(announced, baseMs), baseMs * MAX_HEARTBEAT_FACTOR));
}

/** `silenceMs` (a silence judged at the base period), stretched for a session at `periodMs`. */
export function stretchedSilenceMs(silenceMs: number, periodMs: number, baseMs: number): number {
  return Math.round(silenceMs * Math.max(1, periodMs / baseMs));
}
