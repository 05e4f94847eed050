/**
 * How late this process's own timers fire: the one load signal every part of the agent can
 * read without asking the kernel. A box too busy to keep its own timers cannot tell a dead peer
 * from a slow one — its handshakes then get more time (a handshake given up is work thrown away
 * and done again), and it opens no relays (a relay helps a broken path, not a busy box).
 *
 * The gauge samples every {@link LOOP_LAG_SAMPLE_MS}; its reading is the larger of the latest
 * lateness and the earlier ones decayed with a half-life of {@link LOOP_LAG_HALF_LIFE_MS}, so a
 * burst of load is remembered for some seconds and forgotten once the box is quiet again.
 *
 * @module
 */

import { everyOnGrid, unrefGridClock } from "./control/mod.ts";

/**
 * Sampling period of the gauge. Every timer wake-up of an idle agent costs some hundreds of
 * microseconds of runtime work: at 250 ms this gauge alone was a quarter of an idle agent's
 * wake-ups. A second still sees every lateness that matters (deadlines of seconds), and
 * `lagMs` counts a sample that is overdue right now.
 */
export const LOOP_LAG_SAMPLE_MS = 1000;
/** Lateness seen once counts half after this long. */
export const LOOP_LAG_HALF_LIFE_MS = 5000;

/** A reading of how late timers run here now (ms). */
export type LoopLagReading = () => number;

/** The gauge; `start` it, read `lagMs`. */
export class LoopLag {
  #lag = 0;
  #last = 0;
  /** Stops the sampling timer. */
  #timer: (() => void) | null = null;

  start(): void {
    if (this.#timer !== null) return;
    this.#last = performance.now();
    // On the wall-clock grid, so its wake-up is the one of the agent's other timers of a
    // second (grid_timer.ts); unref'd: the gauge alone never keeps the process alive.
    this.#timer = everyOnGrid(LOOP_LAG_SAMPLE_MS, (late) => this.#sample(late), unrefGridClock);
  }

  stop(): void {
    this.#timer?.();
    this.#timer = null;
  }

  /** How late timers run now (ms): 0 on a quiet box. */
  lagMs(): number {
    if (this.#timer === null) return 0;
    const overdue = performance.now() - this.#last - LOOP_LAG_SAMPLE_MS;
    return Math.max(this.#lag, overdue, 0);
  }

  #sample(lateMs: number): void {
    const now = performance.now();
    this.#lag = nextLag(this.#lag, lateMs, now - this.#last);
    this.#last = now;
  }
}

/** The gauge's step: the earlier reading decayed over `elapsedMs`, or the new lateness if larger. */
export function nextLag(previous: number, lateMs: number, elapsedMs: number): number {
  const decayed = previous * 0.5 ** (elapsedMs / LOOP_LAG_HALF_LIFE_MS);
  return Math.max(decayed, lateMs, 0);
}
