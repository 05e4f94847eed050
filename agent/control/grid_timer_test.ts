import { deepStrictEqual as assertEquals, strictEqual, throws } from "node:assert";
import { everyOnGrid, type GridClock, nextGridPoint } from "./grid_timer.ts";

/**
 * A clock whose timers fire when the test moves (monotonic) time, `skew` ms off the asked
 * time; the wall clock `now()` is monotonic time plus `step` (a clock set back or forth).
 */
class FakeClock implements GridClock {
  skew = 0;
  step = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  constructor(public t: number) {}
  now(): number {
    return this.t + this.step;
  }
  after(ms: number, fn: () => void): () => void {
    const id = this.#next++;
    // Early by at most `-skew`, but never before the next millisecond (as real timers).
    this.#timers.set(id, { at: this.t + Math.max(1, ms + this.skew), fn });
    return () => this.#timers.delete(id);
  }
  /** Moves time to `t`, firing every timer due by then in order. */
  advance(t: number): void {
    this.#fire(t);
    this.t = t;
  }
  /** The event loop was blocked until `t`: timers due meanwhile fire only then. */
  stallUntil(t: number): void {
    this.t = t;
    this.#fire(t);
  }
  #fire(t: number): void {
    while (true) {
      const due = [...this.#timers.entries()].filter(([, x]) => x.at <= t)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
  }
  get pending(): number {
    return this.#timers.size;
  }
}

Deno.test("nextGridPoint is strictly after t", () => {
  assertEquals(nextGridPoint(0, 2000), 2000);
  assertEquals(nextGridPoint(1999, 2000), 2000);
  assertEquals(nextGridPoint(2000, 2000), 4000);
  assertEquals(nextGridPoint(4001, 2500), 5000);
});

Deno.test("everyOnGrid fires on the grid, whenever it was started, until stopped", () => {
  for (const start of [10_000, 10_700, 11_999]) {
    const c = new FakeClock(start);
    const at: number[] = [];
    const stop = everyOnGrid(2000, () => at.push(c.now()), c);
    c.advance(18_500);
    assertEquals(at, [12_000, 14_000, 16_000, 18_000]);
    stop();
    c.advance(30_000);
    strictEqual(at.length, 4);
    strictEqual(c.pending, 0);
  }
});

Deno.test("a timer that fires early waits for its point, once", () => {
  const c = new FakeClock(0);
  c.skew = -3;
  const at: number[] = [];
  everyOnGrid(1000, () => at.push(c.now()), c);
  c.advance(3500);
  assertEquals(at, [1000, 2000, 3000]);
});

Deno.test("after a stall a tick comes once, then the grid again (no bunching)", () => {
  const c = new FakeClock(0);
  const at: number[] = [];
  const late: number[] = [];
  everyOnGrid(1000, (lateMs) => {
    at.push(c.now());
    late.push(lateMs);
  }, c);
  c.advance(900);
  c.stallUntil(5500);
  c.advance(8500);
  assertEquals(at, [5500, 6000, 7000, 8000]);
  assertEquals(late, [4500, 0, 0, 0], "the tick says how late it runs");
});

Deno.test("a wall clock stepped back never stretches a wait beyond a period", () => {
  const c = new FakeClock(100_000);
  const at: number[] = [];
  everyOnGrid(1000, () => at.push(c.now()), c);
  c.advance(101_000);
  assertEquals(at, [101_000]);
  c.step = -61_000; // set back a minute: the wait armed for 102_000 still ends 1 s on
  c.advance(104_500);
  assertEquals(at, [101_000, 42_000, 43_000]);
});

Deno.test("everyOnGrid names a bad period", () => {
  throws(() => everyOnGrid(0, () => {}), /RangeError: everyOnGrid: periodMs/);
  throws(() => everyOnGrid(Number.NaN, () => {}), /periodMs must be a positive number/);
});
