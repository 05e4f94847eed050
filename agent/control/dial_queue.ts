/**
 * When dials run: one timer for all peers, a bounded number of dials at once, and a pace
 * between dial starts. A dial that is due waits in a FIFO queue for a free slot instead of
 * starting at once and timing out under load; its deadline starts when it leaves the queue.
 *
 * The number of slots is a congestion window: it halves (down to one) when a dial times out,
 * a sign that this box or the peers are overloaded, and grows by one per dial that completes,
 * up to the configured maximum. So a fleet that boots all at once queues gently instead of
 * collapsing into timeouts and retries that add load.
 *
 * Pure bookkeeping with an injectable clock and timer, tested without sockets.
 *
 * @module
 */

/** How a dial ended, as far as the window is concerned. */
export type DialOutcome = "done" | "failed" | "timeout";

/** What a dial returns: how it ended, and when to dial the key again (null: not by itself). */
export interface DialResult {
  outcome: DialOutcome;
  retryInMs: number | null;
}

/** A timer handle of the clock that made it. */
export type TimerId = ReturnType<typeof setTimeout>;

/** The clock and the one timer the queue uses (tests pass fakes). */
export interface DialClock {
  now(): number;
  setTimer(fn: () => void, ms: number): TimerId;
  clearTimer(id: TimerId): void;
}

/** The real clock. */
export const REAL_CLOCK: DialClock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (id) => clearTimeout(id),
};

/** Options of a DialQueue. */
export interface DialQueueOptions<K> {
  /** Dials at once at most (the window's ceiling). */
  maxConcurrent: number;
  /** Least time between two dial starts. */
  paceMs: number;
  /** Runs the dial of `key`; resolves with how it ended and when to retry. */
  run: (key: K) => Promise<DialResult>;
  clock?: DialClock;
}

/** Where a key stands in the queue. */
export type DialPhase = "scheduled" | "queued" | "running";

interface Entry {
  due: number;
  seq: number;
}

/** Schedules the dials of many keys on one timer, with a bounded, paced number in flight. */
export class DialQueue<K> {
  readonly #o: Required<DialQueueOptions<K>>;
  /** Scheduled keys by due time (a binary heap over `#due`). */
  #heap: K[] = [];
  readonly #due = new Map<K, Entry>();
  /** Due keys waiting for a slot, in the order they became due. */
  readonly #ready = new Set<K>();
  readonly #running = new Set<K>();
  #window: number;
  #lastStart = -Infinity;
  #timer: TimerId | null = null;
  #timerAt = Infinity;
  #seq = 0;
  #closed = false;

  constructor(o: DialQueueOptions<K>) {
    if (!(o.maxConcurrent >= 1)) {
      throw new RangeError(`maxConcurrent must be ≥ 1, got ${o.maxConcurrent}`);
    }
    if (!(o.paceMs >= 0)) throw new RangeError(`paceMs must be ≥ 0, got ${o.paceMs}`);
    this.#o = { clock: REAL_CLOCK, ...o };
    this.#window = o.maxConcurrent;
  }

  /** Dials allowed at once right now. */
  get window(): number {
    return this.#window;
  }

  /** Dials running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Due dials waiting for a slot. */
  get queued(): number {
    return this.#ready.size;
  }

  /** Where `key` stands, and when it is due if it is scheduled. */
  phase(key: K): { phase: DialPhase; due: number | null } | null {
    if (this.#running.has(key)) return { phase: "running", due: null };
    if (this.#ready.has(key)) return { phase: "queued", due: null };
    const e = this.#due.get(key);
    return e ? { phase: "scheduled", due: e.due } : null;
  }

  /** Dials `key` in `delayMs` (or as soon as a slot is free after that). No-op if pending. */
  schedule(key: K, delayMs: number): void {
    if (this.#closed || this.phase(key)) return;
    const e = { due: this.#o.clock.now() + Math.max(0, delayMs), seq: this.#seq++ };
    this.#due.set(key, e);
    this.#push(key);
    this.#pump();
  }

  /** Forgets `key` if it is scheduled or queued (a running dial runs to its end). */
  cancel(key: K): void {
    if (this.#due.delete(key)) this.#remove(key);
    this.#ready.delete(key);
  }

  /** Stops the timer; nothing starts any more. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) this.#o.clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#heap = [];
    this.#due.clear();
    this.#ready.clear();
  }

  #pump(): void {
    if (this.#closed) return;
    const now = this.#o.clock.now();
    while (this.#heap.length > 0 && this.#due.get(this.#heap[0])!.due <= now) {
      const k = this.#pop();
      this.#due.delete(k);
      this.#ready.add(k);
    }
    while (this.#ready.size > 0 && this.#running.size < this.#window) {
      if (now - this.#lastStart < this.#o.paceMs) break;
      const k = this.#ready.values().next().value!;
      this.#ready.delete(k);
      this.#start(k, now);
    }
    let next = Infinity;
    if (this.#ready.size > 0 && this.#running.size < this.#window) {
      next = this.#lastStart + this.#o.paceMs;
    } else if (this.#heap.length > 0) {
      next = this.#due.get(this.#heap[0])!.due;
    }
    this.#arm(next, now);
  }

  #start(k: K, now: number): void {
    this.#lastStart = now;
    this.#running.add(k);
    let result: DialResult = { outcome: "failed", retryInMs: null };
    this.#o.run(k).then((r) => result = r, () => {}).finally(() => {
      this.#running.delete(k);
      this.#adjust(result.outcome);
      if (result.retryInMs !== null) this.schedule(k, result.retryInMs);
      else this.#pump();
    });
  }

  /** Additive increase per completed dial, multiplicative decrease per timeout. */
  #adjust(outcome: DialOutcome): void {
    if (outcome === "timeout") this.#window = Math.max(1, Math.floor(this.#window / 2));
    else if (outcome === "done") this.#window = Math.min(this.#o.maxConcurrent, this.#window + 1);
  }

  #arm(at: number, now: number): void {
    if (at === this.#timerAt && this.#timer !== null) return;
    if (this.#timer !== null) this.#o.clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = this.#o.clock.setTimer(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.#pump();
    }, Math.max(0, at - now));
  }

  // ---- the heap, ordered by (due, seq) ----

  #less(a: K, b: K): boolean {
    const x = this.#due.get(a)!;
    const y = this.#due.get(b)!;
    return x.due < y.due || (x.due === y.due && x.seq < y.seq);
  }

  #push(k: K): void {
    const h = this.#heap;
    h.push(k);
    this.#up(h.length - 1);
  }

  #pop(): K {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.#downFrom(0);
    }
    return top;
  }

  /** Removes `k` (its entry must still be in `#due` for ordering; call before deleting). */
  #remove(k: K): void {
    const h = this.#heap;
    const i = h.indexOf(k);
    if (i < 0) return;
    const last = h.pop()!;
    if (i === h.length) return;
    h[i] = last;
    // Order by what is left; `k` is gone from `#due` already, `last` is not.
    this.#up(i);
    this.#downFrom(i);
  }

  #up(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #downFrom(i: number): void {
    const h = this.#heap;
    while (true) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l], h[m])) m = l;
      if (r < h.length && this.#less(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
