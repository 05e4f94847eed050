/**
 * Periodic timers on a wall-clock grid: `everyOnGrid(p, fn)` calls `fn` at each multiple of
 * `p` ms since the epoch, not `p` ms after whenever the timer happened to start.
 *
 * Why: on this runtime a control frame costs about a quarter of a millisecond of CPU to send or
 * to receive, most of it the wake-up around it rather than the work (#12). Every box's
 * heartbeats started at its own start time, so a box with 50 peers woke 50 times per period for
 * their heartbeats and 25 more for the acks of its own. On a grid every box's heartbeats of one
 * period go out in the same instant (clocks are NTP-close on a real fleet, identical in a lab),
 * arrive together and are read together: a box wakes a few times per period, not once per peer,
 * and its own timers of commensurate periods share those wake-ups too.
 *
 * @module
 */

/**
 * The clock the grid is laid on: the wall clock and one-shot timers (the agent's `Clock` is
 * this type; tests step time by hand).
 */
export interface GridClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** Real time and real timers. */
export const systemGridClock: GridClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Real time and timers that never keep the process alive on their own (gauges). */
export const unrefGridClock: GridClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    Deno.unrefTimer(t);
    return () => clearTimeout(t);
  },
};

/** The first grid point of period `periodMs` strictly after `t`. */
export function nextGridPoint(t: number, periodMs: number): number {
  return (Math.floor(t / periodMs) + 1) * periodMs;
}

/**
 * Calls `fn` at every grid point of `periodMs` from the next one on, with how late it runs
 * (ms past its point); returns the stop function. A timer that fires early (timer
 * granularity) waits for its point; one that fires late, or after a stall of several periods,
 * calls `fn` once and goes on from the next point ahead: ticks are never bunched up to catch
 * up. A wall clock set back (NTP, an operator) never stretches a wait beyond one period: the
 * grid is laid anew from the new time.
 */
export function everyOnGrid(
  periodMs: number,
  fn: (lateMs: number) => void,
  clock: GridClock = systemGridClock,
): () => void {
  if (!Number.isFinite(periodMs) || periodMs <= 0) {
    throw new RangeError(`everyOnGrid: periodMs must be a positive number, got ${periodMs}`);
  }
  let due = nextGridPoint(clock.now(), periodMs);
  let stopped = false;
  let cancel = () => {};
  const tick = () => {
    if (stopped) return;
    const t = clock.now();
    if (due - t > periodMs) due = nextGridPoint(t, periodMs);
    if (t < due) {
      cancel = clock.after(Math.max(1, due - t), tick);
      return;
    }
    const lateMs = t - due;
    due = nextGridPoint(t, periodMs);
    cancel = clock.after(due - t, tick);
    fn(lateMs);
  };
  cancel = clock.after(due - clock.now(), tick);
  return () => {
    stopped = true;
    cancel();
  };
}
