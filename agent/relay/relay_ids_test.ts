import { deepStrictEqual, strictEqual } from "node:assert";
import { collidingIds, relayId } from "./relay_ids.ts";

// Known answers from Python's hashlib (an independent SHA-256):
// int.from_bytes(sha256(b"weave-agent relay id v1\0" + name).digest()[:4], "big")
Deno.test("relay ids: first four bytes of SHA-256 over the label and the name (hashlib KAT)", () => {
  strictEqual(relayId("edge-1"), 2080494285);
  strictEqual(relayId("edge-2"), 3348207219);
  strictEqual(relayId("a"), 70631877);
});

Deno.test("relay ids: a fleet without collisions reports none", () => {
  deepStrictEqual(collidingIds(["edge-1", "edge-2", "edge-3"]), []);
  deepStrictEqual(collidingIds(["edge-1", "edge-1"]), ["edge-1"]);
});
