import { deepStrictEqual, ok as assert, strictEqual } from "node:assert";
import { type DialClock, DialQueue, type DialResult, type TimerId } from "./dial_queue.ts";

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements DialClock {
  t = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #id = 1;
  now = () => this.t;
  setTimer = (fn: () => void, ms: number): TimerId => {
    const id = this.#id++;
    this.#timers.set(id, { at: this.t + ms, fn });
    return id as unknown as TimerId;
  };
  clearTimer = (id: TimerId) => void this.#timers.delete(id as unknown as number);
  get pending(): number {
    return this.#timers.size;
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    while (true) {
      const due = [...this.#timers].filter(([, x]) => x.at <= end).sort((a, b) =>
        a[1].at - b[1].at
      );
      if (due.length === 0) break;
      const [id, x] = due[0];
      this.#timers.delete(id);
      this.t = Math.max(this.t, x.at);
      x.fn();
      await flush();
    }
    this.t = end;
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function harness(maxConcurrent: number, paceMs: number) {
  const clock = new FakeClock();
  const started: { key: string; at: number }[] = [];
  const finish = new Map<string, (r: DialResult) => void>();
  const q = new DialQueue<string>({
    maxConcurrent,
    paceMs,
    clock,
    run: (key) => {
      started.push({ key, at: clock.t });
      return new Promise((resolve) => finish.set(key, resolve));
    },
  });
  const end = async (key: string, r: DialResult) => {
    finish.get(key)!(r);
    finish.delete(key);
    await flush();
    await flush();
  };
  return { clock, q, started, end };
}

Deno.test("dial queue: due dials wait for a slot, in order; one timer for all of them", async () => {
  const { clock, q, started, end } = harness(2, 0);
  for (const [k, d] of [["a", 30], ["b", 10], ["c", 20], ["d", 20]] as const) q.schedule(k, d);
  strictEqual(clock.pending, 1, "one timer however many peers are scheduled");
  await clock.advance(25);
  deepStrictEqual(started.map((s) => s.key), ["b", "c"]);
  deepStrictEqual(q.phase("d"), { phase: "queued", due: null });
  deepStrictEqual(q.phase("a"), { phase: "scheduled", due: 30 });
  await end("b", { outcome: "done", retryInMs: null });
  deepStrictEqual(started.map((s) => s.key), ["b", "c", "d"]);
  await clock.advance(10);
  strictEqual(q.queued, 1, `a waits for a slot: queued=${q.queued} running=${q.running}`);
  await end("c", { outcome: "done", retryInMs: null });
  deepStrictEqual(started.map((s) => s.key), ["b", "c", "d", "a"]);
});

Deno.test("dial queue: starts are paced", async () => {
  const { clock, q, started } = harness(10, 50);
  for (const k of ["a", "b", "c"]) q.schedule(k, 0);
  await clock.advance(200);
  deepStrictEqual(started.map((s) => s.at), [0, 50, 100]);
});

Deno.test("dial queue: the window halves per timeout and grows back per completed dial", async () => {
  const { q, end } = harness(8, 0);
  for (const k of ["a", "b", "c"]) q.schedule(k, 0);
  await flush();
  await end("a", { outcome: "timeout", retryInMs: null });
  strictEqual(q.window, 4);
  await end("b", { outcome: "timeout", retryInMs: null });
  strictEqual(q.window, 2);
  await end("c", { outcome: "timeout", retryInMs: null });
  strictEqual(q.window, 1);
  for (const k of ["d", "e"]) q.schedule(k, 0);
  await flush();
  strictEqual(q.running, 1, `window 1 lets one dial run: running=${q.running}`);
  await end("d", { outcome: "done", retryInMs: null });
  strictEqual(q.window, 2);
  await end("e", { outcome: "failed", retryInMs: null });
  strictEqual(q.window, 2, "a plain failure (refused, unreachable) is no sign of load");
});

Deno.test("dial queue: a dial's retry is scheduled after it ends; cancel and close forget", async () => {
  const { clock, q, started, end } = harness(2, 0);
  q.schedule("a", 0);
  await flush();
  q.schedule("a", 0); // running: no second dial of the same key
  await end("a", { outcome: "failed", retryInMs: 100 });
  deepStrictEqual(q.phase("a"), { phase: "scheduled", due: 100 });
  q.schedule("b", 50);
  q.cancel("a");
  strictEqual(q.phase("a"), null);
  await clock.advance(200);
  deepStrictEqual(started.map((s) => s.key), ["a", "b"]);
  q.schedule("c", 10);
  q.close();
  await clock.advance(100);
  assert(!started.some((s) => s.key === "c"), `started=${JSON.stringify(started)}`);
  strictEqual(clock.pending, 0);
});
