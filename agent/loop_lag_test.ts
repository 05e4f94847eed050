import { ok, strictEqual } from "node:assert";
import { LOOP_LAG_HALF_LIFE_MS, LOOP_LAG_SAMPLE_MS, LoopLag, nextLag } from "./loop_lag.ts";

Deno.test("loop lag: lateness is remembered, halving every half-life", () => {
  strictEqual(nextLag(0, -3, 250), 0, "early or on time: no lag");
  strictEqual(nextLag(0, 1200, 1450), 1200);
  strictEqual(nextLag(1000, 0, LOOP_LAG_HALF_LIFE_MS), 500);
  strictEqual(nextLag(1000, 800, LOOP_LAG_HALF_LIFE_MS), 800, "a larger new lateness wins");
});

Deno.test("loop lag: a blocked event loop reads as lag, a free one as none", async () => {
  const g = new LoopLag();
  strictEqual(g.lagMs(), 0, "not started");
  g.start();
  try {
    await new Promise((r) => setTimeout(r, 600));
    ok(g.lagMs() < 200, `idle: ${g.lagMs()} ms`);
    // Blocked for a whole sampling period and 700 ms more, as on a starved box.
    const until = performance.now() + LOOP_LAG_SAMPLE_MS + 700;
    while (performance.now() < until) { /* the loop is blocked */ }
    ok(g.lagMs() >= 400, `after a ${LOOP_LAG_SAMPLE_MS + 700} ms block: ${g.lagMs()} ms`);
  } finally {
    g.stop();
  }
});
