import { deepStrictEqual, strictEqual } from "node:assert";
import { x25519 } from "@noble/curves/ed25519.js";
import { nodeKeyVerdict } from "./node_key_file.ts";

const pair = (seed: number) => {
  const privateKey = new Uint8Array(32).fill(seed);
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
};

Deno.test("node key file: configured key must be in the file; none configured, none needed", () => {
  const mine = pair(1), other = pair(2);
  const ok = nodeKeyVerdict("edge-1", "/k", mine.publicKey, mine);
  deepStrictEqual([ok.ok, ok.ok && ok.key], [true, mine]);
  const wrong = nodeKeyVerdict("edge-1", "/k", mine.publicKey, other);
  strictEqual(wrong.ok, false);
  strictEqual(!wrong.ok && /is not the key weave\.yaml gives peer edge-1/.test(wrong.error), true);
  const missing = nodeKeyVerdict("edge-1", "/k", mine.publicKey, null);
  strictEqual(!missing.ok && /no key file at \/k/.test(missing.error), true);
  const none = nodeKeyVerdict("edge-1", "/k", null, null);
  deepStrictEqual([none.ok, none.ok && none.key], [true, null]);
  const unconfigured = nodeKeyVerdict("edge-1", "/k", null, other);
  deepStrictEqual([unconfigured.ok, unconfigured.ok && unconfigured.key], [true, other]);
});
