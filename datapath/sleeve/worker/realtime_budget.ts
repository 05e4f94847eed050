/**
 * When the packet worker runs at realtime priority (issue #18), decided from how busy its loop
 * is; sys/sched.ts makes the change, worker/priority.ts connects the two.
 *
 * Why realtime: under a bulk transfer the worker competes with the transfer's own processes
 * and the kernel's network work for two CPUs, and each time the scheduler runs something else
 * first, the packets behind it wait: measured here, the two workers of a pair waited ≈ 1 s of
 * a 7 s single-stream transfer to be run, a ping behind the transfer took 1.2–2.1 ms at the
 * median and up to 7 ms. At SCHED_FIFO the worker runs the moment a packet wakes it: median
 * 0.44–0.60 ms and at most 1.0–3.5 ms in the same runs, with 20% more throughput (the TCP
 * sender stops losing whole GRO runs while the receiver is not scheduled) and less CPU per GB.
 *
 * Why a budget: a realtime thread that always has work starves every ordinary thread of its
 * CPU (the kernel keeps back only 5% per second), and an underlay attacker can give the worker
 * that much work with forged datagrams (each costs an AEAD open before it is refused). So once
 * the worker was busy for more than {@link REALTIME_MAX_SHARE} of a {@link REALTIME_WINDOW_MS}
 * window it goes back to the ordinary policy, and what brings it back depends on what kept it
 * busy:
 * - Traffic (a transfer it cannot keep up with: its datagrams authentic, or frames from this
 *   box's own TAPs): back at the next window. The box's other threads get the rest of every
 *   window, at least 5 ms in 100 and their fair share of it, and the transfer keeps its low
 *   latency the rest of the time.
 * - A flood: more refused datagrams (forged, replayed, for no session) than authentic ones, at
 *   least {@link REALTIME_FLOOD_MIN} of them. Back only after a window busy less than
 *   {@link REALTIME_RESUME_SHARE} and not itself flooded, or more such windows in a row the
 *   more often a flood drove it out in the last {@link REALTIME_BACKOFF_MS} (twice as many
 *   each time, up to {@link REALTIME_MAX_QUIET_WINDOWS}): an attacker who floods in bursts, to catch it back at
 *   realtime each time, gets it less and less, and meanwhile the worker costs the box what an
 *   ordinary busy thread costs it.
 *
 * Pure: the caller passes the times of each loop turn (one clock, ms) and the datagrams it
 * refused and accepted.
 *
 * @module
 */

/** Length of the window the worker's busy share is judged over. */
export const REALTIME_WINDOW_MS = 100;
/**
 * Busy share of a window past which the worker leaves realtime: the box's other threads keep at
 * least 5% of that CPU in every window (what the kernel itself keeps back from realtime
 * threads, but per 100 ms rather than per second), and all of their share after.
 */
export const REALTIME_MAX_SHARE = 0.95;
/** Busy share of a whole window under which a flood counts as over. */
export const REALTIME_RESUME_SHARE = 0.8;
/**
 * Refused datagrams a window needs (besides outnumbering the authentic ones) to count as a
 * flood: 1000 a second, far above what a misconfigured box or a late datagram makes.
 */
export const REALTIME_FLOOD_MIN = 100;
/** How long an exit from realtime counts towards the quiet windows needed to return. */
export const REALTIME_BACKOFF_MS = 10_000;
/** Most quiet windows in a row ever needed to return to realtime (6.4 s at 100 ms). */
export const REALTIME_MAX_QUIET_WINDOWS = 64;

/** What {@link RealtimeBudget.turn} asks for: a change of policy, or none. */
export type PriorityChange = "realtime" | "normal" | null;

/** A policy change, the busy share of the window that caused it, and whether a flood did. */
export interface PriorityDecision {
  change: PriorityChange;
  /** Busy share (0..1) of the window judged. */
  share: number;
  /** The worker left (or stays out of) realtime for a flood, not for traffic. */
  flood: boolean;
}

/** Options of {@link RealtimeBudget}; each defaults to the constant of the same name. */
export interface RealtimeBudgetOptions {
  /** Window length in ms, > 0. Default {@link REALTIME_WINDOW_MS}. */
  windowMs?: number;
  /** Busy share past which realtime ends, in (0, 1]. Default {@link REALTIME_MAX_SHARE}. */
  maxShare?: number;
  /**
   * Busy share under which realtime resumes after a flood, in [0, maxShare). Default
   * {@link REALTIME_RESUME_SHARE}.
   */
  resumeShare?: number;
  /** How long an exit counts, in ms, ≥ 0. Default {@link REALTIME_BACKOFF_MS}. */
  backoffMs?: number;
  /** Cap of the quiet windows needed, ≥ 1. Default {@link REALTIME_MAX_QUIET_WINDOWS}. */
  maxQuietWindows?: number;
}

/** Accounts the loop's busy time per window and says when to leave or resume realtime. */
export class RealtimeBudget {
  readonly #windowMs: number;
  readonly #maxShare: number;
  readonly #resumeShare: number;
  #windowStart: number;
  readonly #backoffMs: number;
  readonly #maxQuietWindows: number;
  #busyMs = 0;
  #realtime = true;
  /** When the worker left realtime, within the last backoffMs. */
  #exits: number[] = [];
  /** Quiet windows in a row since a flood drove it out, and how many it needs. */
  #quiet = 0;
  #quietNeeded = 1;
  /** Out of realtime for a flood (else for traffic, until the window ends). */
  #flood = false;
  /** Datagrams of the current window: refused, and authentic. */
  #refused = 0;
  #authentic = 0;

  /** Starts at realtime, with a window opening at `now`. */
  constructor(now: number, opts: RealtimeBudgetOptions = {}) {
    const windowMs = opts.windowMs ?? REALTIME_WINDOW_MS;
    const maxShare = opts.maxShare ?? REALTIME_MAX_SHARE;
    const resumeShare = opts.resumeShare ?? REALTIME_RESUME_SHARE;
    if (!(windowMs > 0)) throw new Error(`RealtimeBudget: windowMs must be > 0, not ${windowMs}`);
    if (!(maxShare > 0 && maxShare <= 1)) {
      throw new Error(`RealtimeBudget: maxShare must be in (0, 1], not ${maxShare}`);
    }
    if (!(resumeShare >= 0 && resumeShare < maxShare)) {
      throw new Error(
        `RealtimeBudget: resumeShare must be in [0, maxShare = ${maxShare}), not ${resumeShare}`,
      );
    }
    const backoffMs = opts.backoffMs ?? REALTIME_BACKOFF_MS;
    const maxQuietWindows = opts.maxQuietWindows ?? REALTIME_MAX_QUIET_WINDOWS;
    if (!(backoffMs >= 0)) {
      throw new Error(`RealtimeBudget: backoffMs must be >= 0, not ${backoffMs}`);
    }
    if (!(Number.isInteger(maxQuietWindows) && maxQuietWindows >= 1)) {
      throw new Error(
        `RealtimeBudget: maxQuietWindows must be an integer >= 1, not ${maxQuietWindows}`,
      );
    }
    this.#backoffMs = backoffMs;
    this.#maxQuietWindows = maxQuietWindows;
    this.#windowMs = windowMs;
    this.#maxShare = maxShare;
    this.#resumeShare = resumeShare;
    this.#windowStart = now;
  }

  /** Whether the worker should be at realtime now. */
  get realtime(): boolean {
    return this.#realtime;
  }

  /**
   * Accounts a loop turn that was busy from `from` to `to` (it woke at `from` and goes back to
   * sleep at `to`) and, of the datagrams it received, how many were `refused` and how many
   * `authentic`. Leaving realtime happens as soon as the window's budget is spent, not at the
   * window's end; returning is judged at a window's end.
   */
  turn(from: number, to: number, refused = 0, authentic = 0): PriorityDecision {
    this.#busyMs += Math.max(0, to - from);
    this.#refused += refused;
    this.#authentic += authentic;
    const elapsed = to - this.#windowStart;
    // Judged over at least a whole window: a window's first busy turns are not a share yet.
    const span = Math.max(elapsed, this.#windowMs);
    if (this.#realtime && this.#busyMs > this.#maxShare * span) {
      this.#realtime = false;
      this.#flood = this.#flooded();
      if (this.#flood) {
        this.#exits = this.#exits.filter((t) => to - t < this.#backoffMs);
        this.#exits.push(to);
        this.#quiet = 0;
        this.#quietNeeded = Math.min(this.#maxQuietWindows, 2 ** (this.#exits.length - 1));
      }
      return { change: "normal", share: this.#busyMs / span, flood: this.#flood };
    }
    const flood = !this.#realtime && this.#flood;
    if (elapsed < this.#windowMs) {
      return { change: null, share: this.#busyMs / this.#windowMs, flood };
    }
    // The window is over (a long sleep in poll() makes it longer, and its share smaller).
    const share = this.#busyMs / elapsed;
    const wasFlood = this.#flooded();
    this.#windowStart = to;
    this.#busyMs = this.#refused = this.#authentic = 0;
    if (this.#realtime) return { change: null, share, flood: false };
    if (this.#flood) {
      // A flood that goes on keeps it out whatever the share: it is the refused work that counts.
      this.#quiet = share < this.#resumeShare && !wasFlood ? this.#quiet + 1 : 0;
      if (this.#quiet < this.#quietNeeded) return { change: null, share, flood: true };
    }
    this.#realtime = true;
    this.#flood = false;
    return { change: "realtime", share, flood: false };
  }

  /** Whether refused datagrams, not traffic, filled the current window. */
  #flooded(): boolean {
    return this.#refused >= REALTIME_FLOOD_MIN && this.#refused > this.#authentic;
  }
}
