/**
 * Time as the agent's protocols see it: the current time and one-shot timers. Protocols take a
 * `Clock` so their unit tests step time by hand instead of sleeping.
 *
 * @module
 */

/** The current time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** Wall-clock time and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
