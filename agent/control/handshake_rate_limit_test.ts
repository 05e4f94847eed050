/** The handshake rate limiter with an injected clock: bursts, refill, per source, in total. */

import { deepStrictEqual, strictEqual, throws } from "node:assert";
import { HandshakeRateLimiter, TokenBucket } from "./handshake_rate_limit.ts";

Deno.test("token bucket: a burst, then the steady rate, capped at the burst", () => {
  const b = new TokenBucket(3, 2, 0);
  deepStrictEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  strictEqual(b.take(499), false); // 0.998 tokens
  strictEqual(b.take(500), true);
  strictEqual(b.tokens(100_000), 3);
  throws(() => new TokenBucket(0, 1, 0), RangeError);
});

Deno.test("rate limiter: each source has its own bucket; all share the total", () => {
  let t = 0;
  const rl = new HandshakeRateLimiter({
    burstPerSource: 2,
    perSourcePerSecond: 1,
    burstTotal: 5,
    totalPerSecond: 1,
    now: () => t,
  });
  const a = [rl.admit("10.0.0.1"), rl.admit("10.0.0.1"), rl.admit("10.0.0.1")];
  deepStrictEqual(a, ["ok", "ok", "source-limit"]);
  // Another source is not held back by the first...
  deepStrictEqual([rl.admit("10.0.0.2"), rl.admit("10.0.0.2")], ["ok", "ok"]);
  // ...until the total runs out; the refused source keeps its token.
  deepStrictEqual([rl.admit("10.0.0.3"), rl.admit("10.0.0.3")], ["ok", "total-limit"]);
  t = 1000;
  deepStrictEqual([rl.admit("10.0.0.3"), rl.admit("10.0.0.1")], ["ok", "total-limit"]);
  t = 2000;
  strictEqual(rl.admit("10.0.0.1"), "ok");
});

Deno.test("rate limiter: memory is bounded; churning through sources still meets the total", () => {
  let t = 0;
  const rl = new HandshakeRateLimiter({
    maxSources: 4,
    burstTotal: 20,
    totalPerSecond: 1,
    now: () => t,
  });
  const verdicts = Array.from({ length: 50 }, (_, i) => rl.admit(`10.1.0.${i}`));
  strictEqual(rl.size, 4);
  strictEqual(verdicts.filter((v) => v === "ok").length, 20, verdicts.join(","));
  // A full bucket is forgotten first: after a quiet while, "a" keeps its place only if used.
  t = 60_000;
  for (const s of ["a", "b", "c", "d"]) rl.admit(s);
  rl.admit("e");
  strictEqual(rl.size, 4);
  throws(() => new HandshakeRateLimiter({ burstPerSource: 0 }), /burstPerSource must be > 0/);
});
