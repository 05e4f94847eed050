import { deepStrictEqual, strictEqual, throws } from "node:assert";
import {
  REALTIME_BACKOFF_MS,
  REALTIME_MAX_QUIET_WINDOWS,
  REALTIME_MAX_SHARE,
  REALTIME_RESUME_SHARE,
  REALTIME_WINDOW_MS,
  RealtimeBudget,
} from "./realtime_budget.ts";

/**
 * Runs turns of `busyMs` each followed by `idleMs` asleep, from `t`, for `ms`; returns the
 * changes asked for (with the time) and the time reached.
 */
function run(b: RealtimeBudget, t: number, ms: number, busyMs: number, idleMs: number) {
  const changes: { at: number; change: string }[] = [];
  const end = t + ms;
  while (t < end) {
    const d = b.turn(t, t + busyMs);
    if (d.change) changes.push({ at: t + busyMs, change: d.change });
    t += busyMs + idleMs;
  }
  return { changes, t };
}

Deno.test("realtime budget: the defaults are what the module says", () => {
  strictEqual(REALTIME_WINDOW_MS, 100);
  strictEqual(REALTIME_MAX_SHARE, 0.95);
  strictEqual(REALTIME_RESUME_SHARE, 0.8);
  strictEqual(REALTIME_BACKOFF_MS, 10_000);
  strictEqual(REALTIME_MAX_QUIET_WINDOWS, 64);
});

Deno.test("realtime budget: sparse turns (pings, keepalives) stay realtime", () => {
  const b = new RealtimeBudget(0);
  // A ping every 1 ms costing 0.2 ms each, then every 200 ms: 20% and 0.1% busy.
  deepStrictEqual(run(b, 0, 2000, 0.2, 0.8).changes, []);
  deepStrictEqual(run(b, 2000, 5000, 0.2, 200).changes, []);
  strictEqual(b.realtime, true);
});

Deno.test("realtime budget: a transfer the worker keeps up with (86% busy) stays realtime", () => {
  const b = new RealtimeBudget(0);
  deepStrictEqual(run(b, 0, 10_000, 0.43, 0.07).changes, []);
  strictEqual(b.realtime, true);
});

Deno.test("realtime budget: a saturated worker leaves realtime within one window", () => {
  const b = new RealtimeBudget(0);
  // Back-to-back turns of 0.5 ms: a flood, or a transfer the worker cannot keep up with.
  const r = run(b, 0, 1000, 0.5, 0);
  strictEqual(r.changes.length, 1, JSON.stringify(r.changes));
  strictEqual(r.changes[0].change, "normal");
  // Over budget once 95 ms of 100 were busy.
  strictEqual(r.changes[0].at > 95 && r.changes[0].at <= 96, true, `${r.changes[0].at}`);
  strictEqual(b.realtime, false);
});

Deno.test("realtime budget: it stays ordinary while saturated and returns once quiet", () => {
  const b = new RealtimeBudget(0);
  let r = run(b, 0, 5000, 0.5, 0);
  deepStrictEqual(r.changes.map((c) => c.change), ["normal"]);
  // Still 85% busy: above the resume share, so no return (and no flapping).
  r = run(b, r.t, 2000, 0.85, 0.15);
  deepStrictEqual(r.changes, []);
  // Under 80%: back at the end of the first whole window.
  const quietFrom = r.t;
  r = run(b, r.t, 1000, 0.7, 0.3);
  deepStrictEqual(r.changes.map((c) => c.change), ["realtime"]);
  strictEqual(r.changes[0].at - quietFrom <= 2 * REALTIME_WINDOW_MS, true);
  strictEqual(b.realtime, true);
});

Deno.test("realtime budget: after a long sleep the first busy turns are no share yet", () => {
  const b = new RealtimeBudget(0);
  // Asleep in poll() for 10 s, then 30 ms of work at once (a burst after idle): 30% of a window.
  deepStrictEqual(b.turn(10_000, 10_030).change, null);
  // A window that ran 98 ms busy of 150 (65%) is not over budget either.
  const c = new RealtimeBudget(0);
  deepStrictEqual(c.turn(0, 88).change, null);
  deepStrictEqual(c.turn(140, 150).change, null);
  strictEqual(c.realtime, true);
});

Deno.test("realtime budget: a flood in bursts finds it back at realtime less and less", () => {
  const b = new RealtimeBudget(0);
  // 200 ms of flood, then 200 ms quiet, over and over: each exit doubles the quiet windows
  // needed to return (1, 2, 4, ...), so later bursts meet the ordinary policy from the start.
  let t = 0;
  const exits: number[] = [];
  let realtimeMs = 0;
  while (t < 8000) {
    for (const [busy, idle, ms] of [[0.5, 0, 200], [0.1, 0.9, 200]]) {
      const end = t + ms;
      while (t < end) {
        if (b.realtime) realtimeMs += busy + idle;
        const d = b.turn(t, t + busy);
        if (d.change === "normal") exits.push(t);
        t += busy + idle;
      }
    }
  }
  // After the first exit 1 quiet window is needed, after the second 2 (both met in a 200 ms
  // pause), after the third 4: never met again while the bursts go on.
  strictEqual(exits.length, 3, JSON.stringify(exits));
  strictEqual(b.realtime, false);
  // The flood's 10 s later: the exits no longer count and one quiet window brings it back.
  const r = run(b, t, 10_100, 0.1, 0.9);
  deepStrictEqual(r.changes.map((c) => c.change), ["realtime"]);
  const later = run(b, r.t, 1000, 0.5, 0);
  deepStrictEqual(later.changes.map((c) => c.change), ["normal"]);
  // That exit is the only one of the last 10 s: one quiet window brings it back.
  const back = run(b, later.t, 150, 0.1, 0.9);
  deepStrictEqual(back.changes.map((c) => c.change), ["realtime"]);
  strictEqual(realtimeMs < 800, true, `${realtimeMs}`);
});

Deno.test("realtime budget: options are checked and named", () => {
  throws(() => new RealtimeBudget(0, { windowMs: 0 }), /windowMs must be > 0, not 0/);
  throws(() => new RealtimeBudget(0, { maxShare: 1.5 }), /maxShare must be in \(0, 1\], not 1.5/);
  throws(
    () => new RealtimeBudget(0, { maxShare: 0.5, resumeShare: 0.5 }),
    /resumeShare must be in \[0, maxShare = 0.5\), not 0.5/,
  );
  throws(() => new RealtimeBudget(0, { backoffMs: -1 }), /backoffMs must be >= 0, not -1/);
  throws(
    () => new RealtimeBudget(0, { maxQuietWindows: 0.5 }),
    /maxQuietWindows must be an integer >= 1, not 0.5/,
  );
  const b = new RealtimeBudget(0, { windowMs: 10, maxShare: 0.5, resumeShare: 0.1 });
  deepStrictEqual(run(b, 0, 20, 1, 0).changes.map((c) => c.change), ["normal"]);
});
