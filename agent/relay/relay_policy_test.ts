import { strictEqual } from "node:assert";
import { mayRelay } from "./relay_policy.ts";
import type { RelayPolicy } from "../topology/mod.ts";

Deno.test("relay policy: relay: false refuses, relays: lists limit, an end never relays itself", () => {
  const policy = new Map<string, RelayPolicy>([
    ["shy", { relay: false, relays: null }],
    ["picky", { relay: true, relays: ["hub"] }],
  ]);
  const cases: [string, string[], boolean][] = [
    ["hub", ["a", "b"], true],
    ["shy", ["a", "b"], false],
    ["hub", ["a", "picky"], true],
    ["other", ["a", "picky"], false],
    ["a", ["a", "b"], false],
  ];
  for (const [relay, ends, want] of cases) {
    strictEqual(mayRelay(relay, ends, policy), want, `${relay} between ${ends.join(" and ")}`);
  }
});
