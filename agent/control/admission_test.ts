import { strictEqual } from "node:assert";
import { Admission } from "./admission.ts";

Deno.test("admission: caps in total and per source; release gives the slot back", () => {
  const a = new Admission(3, 2);
  strictEqual(a.reserve("10.0.0.1"), true);
  strictEqual(a.reserve("10.0.0.1"), true);
  strictEqual(a.reserve("10.0.0.1"), false); // per-source cap
  strictEqual(a.reserve("10.0.0.2"), true);
  strictEqual(a.reserve("10.0.0.3"), false); // total cap
  strictEqual(a.pending, 3);
  strictEqual(a.pendingFrom("10.0.0.1"), 2);
  a.release("10.0.0.1");
  strictEqual(a.pendingFrom("10.0.0.1"), 1);
  strictEqual(a.reserve("10.0.0.3"), true);
  a.release("10.0.0.1");
  a.release("10.0.0.2");
  a.release("10.0.0.3");
  strictEqual(a.pending, 0);
  strictEqual(a.pendingFrom("10.0.0.1"), 0);
});
