import { deepStrictEqual, strictEqual } from "node:assert";
import { backoffDelay, firstDialDelay } from "./dial_delay.ts";

const fixed = (x: number) => () => x;

Deno.test("first dial: the decider dials at once, the other side after defer plus jitter", () => {
  strictEqual(firstDialDelay(true, 300, fixed(0.9)), 0);
  strictEqual(firstDialDelay(false, 300, fixed(0)), 300);
  strictEqual(firstDialDelay(false, 300, fixed(0.5)), 450);
  strictEqual(firstDialDelay(false, 0, fixed(0.5)), 0);
});

Deno.test("backoff doubles per failed attempt, is capped, and jitters in the upper half", () => {
  const low = [1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, 250, 10_000, fixed(0)));
  const high = [1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, 250, 10_000, fixed(1)));
  deepStrictEqual(low, [125, 250, 500, 1000, 2000, 4000, 5000]);
  deepStrictEqual(high, [250, 500, 1000, 2000, 4000, 8000, 10_000]);
  // Attempt 0 (a lost session, no dial yet) waits like the first retry; huge counts stay capped.
  strictEqual(backoffDelay(0, 250, 10_000, fixed(1)), 250);
  strictEqual(backoffDelay(10_000, 250, 10_000, fixed(1)), 10_000);
});
