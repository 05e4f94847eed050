import { deepStrictEqual, strictEqual, throws } from "node:assert";
import {
  REALTIME_BACKOFF_MS,
  REALTIME_FLOOD_MIN,
  REALTIME_MAX_QUIET_WINDOWS,
  REALTIME_MAX_SHARE,
  REALTIME_RESUME_SHARE,
  REALTIME_WINDOW_MS,
  RealtimeBudget,
} from "./realtime_budget.ts";

/**
 * Runs turns of `busyMs` each followed by `idleMs` asleep, from `t`, for `ms`, each turn with
 * `refused` and `authentic` datagrams; returns the changes asked for (with the time and whether
 * for a flood), the time reached and how long of it the worker was at realtime.
 */
function run(
  b: RealtimeBudget,
  t: number,
  ms: number,
  busyMs: number,
  idleMs: number,
  refused = 0,
  authentic = 0,
) {
  const changes: { at: number; change: string; flood: boolean }[] = [];
  const end = t + ms;
  let realtimeMs = 0;
  while (t < end) {
    if (b.realtime) realtimeMs += busyMs + idleMs;
    const d = b.turn(t, t + busyMs, refused, authentic);
    if (d.change) changes.push({ at: t + busyMs, change: d.change, flood: d.flood });
    t += busyMs + idleMs;
  }
  return { changes, t, realtimeMs };
}

/** A turn's worth of a flood: 64 forged datagrams, none authentic. */
const FORGED = 64;

Deno.test("realtime budget: the defaults are what the module says", () => {
  strictEqual(REALTIME_WINDOW_MS, 100);
  strictEqual(REALTIME_MAX_SHARE, 0.95);
  strictEqual(REALTIME_RESUME_SHARE, 0.8);
  strictEqual(REALTIME_BACKOFF_MS, 10_000);
  strictEqual(REALTIME_MAX_QUIET_WINDOWS, 64);
  strictEqual(REALTIME_FLOOD_MIN, 100);
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

Deno.test("realtime budget: traffic it cannot keep up with: out for the rest of each window", () => {
  const b = new RealtimeBudget(0);
  // Back-to-back turns of 0.5 ms, every datagram authentic (or frames from its own TAPs).
  const r = run(b, 0, 1000, 0.5, 0, 0, 64);
  // Out once 95 ms of a window were busy, back when the window ends: every window.
  strictEqual(r.changes[0].change, "normal");
  strictEqual(r.changes[0].flood, false);
  strictEqual(r.changes[0].at > 95 && r.changes[0].at <= 96, true, `${r.changes[0].at}`);
  strictEqual(r.changes[1].change, "realtime");
  strictEqual(r.changes[1].at >= 100 && r.changes[1].at <= 101, true, `${r.changes[1].at}`);
  strictEqual(r.changes.length >= 18, true, JSON.stringify(r.changes));
  // At realtime 95% of the time; the box's other threads get the rest of every window.
  strictEqual(r.realtimeMs / 1000 > 0.93, true, `${r.realtimeMs}`);
  // A few refused datagrams (a late one, a stray box) do not make it a flood.
  const c = new RealtimeBudget(0);
  const few = run(c, 0, 200, 0.5, 0, 0.25, 64);
  strictEqual(few.changes[0].flood, false);
});

Deno.test("realtime budget: a flood keeps it out while it lasts, and it returns once over", () => {
  const b = new RealtimeBudget(0);
  let r = run(b, 0, 5000, 0.5, 0, FORGED, 0);
  deepStrictEqual(r.changes.map((c) => [c.change, c.flood]), [["normal", true]]);
  strictEqual(r.changes[0].at > 95 && r.changes[0].at <= 96, true, `${r.changes[0].at}`);
  // Still flooded, though less busy now (at the ordinary policy it gets less CPU): still out.
  r = run(b, r.t, 2000, 0.5, 0.5, FORGED, 0);
  deepStrictEqual(r.changes, []);
  // Busy with traffic, not a flood, but over 80%: not yet.
  r = run(b, r.t, 2000, 0.85, 0.15, 0, 64);
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
    for (const [busy, idle, ms, forged] of [[0.5, 0, 200, FORGED], [0.1, 0.9, 200, 0]]) {
      const end = t + ms;
      while (t < end) {
        if (b.realtime) realtimeMs += busy + idle;
        const d = b.turn(t, t + busy, forged, 0);
        if (d.change === "normal") exits.push(t);
        t += busy + idle;
      }
    }
  }
  // After the first exit 1 quiet window is needed (met in a 200 ms pause), after the second 2
  // (whole windows without the flood's datagrams: not met in a 200 ms pause), so it stays out
  // while the bursts go on.
  strictEqual(exits.length, 2, JSON.stringify(exits));
  strictEqual(b.realtime, false);
  // The flood's 10 s later: the exits no longer count and one quiet window brings it back.
  const r = run(b, t, 10_100, 0.1, 0.9);
  deepStrictEqual(r.changes.map((c) => c.change), ["realtime"]);
  const later = run(b, r.t, 1000, 0.5, 0, FORGED, 0);
  deepStrictEqual(later.changes.map((c) => c.change), ["normal"]);
  // That exit is the only one of the last 10 s: one quiet window brings it back.
  const back = run(b, later.t, 250, 0.1, 0.9);
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
  deepStrictEqual(run(b, 0, 20, 1, 0, FORGED).changes.map((c) => c.change), ["normal"]);
});
