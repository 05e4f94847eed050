/**
 * When to dial: the first dial of a pair and every retry, as pure functions of the attempt
 * count and the options, so they are tested without sockets or clocks.
 *
 * @module
 */

/** Exponent cap: 2^16 times any sane base is past any sane cap already. */
const MAX_DOUBLINGS = 16;

/**
 * The first dial: the deciding side dials at once; the other waits `deferMs` plus up to as
 * much jitter, so usually only the decider's connection is made and no twin needs closing.
 */
export function firstDialDelay(decides: boolean, deferMs: number, random = Math.random): number {
  return decides ? 0 : deferMs * (1 + random());
}

/**
 * The wait before retry number `attempts + 1`: `baseMs` doubled per failed attempt (the first
 * retry waits `baseMs`), capped at `maxMs`, then drawn uniformly from its upper half so that
 * peers that failed together do not retry together.
 */
export function backoffDelay(
  attempts: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const doublings = Math.min(Math.max(attempts - 1, 0), MAX_DOUBLINGS);
  const exp = Math.min(maxMs, baseMs * 2 ** doublings);
  return exp / 2 + random() * exp / 2;
}
