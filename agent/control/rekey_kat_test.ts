/**
 * Known-answer test of a rekey (#14) against the independent reference
 * (tests/tools/handshake_ref.py, cpace_ref.py's lv_cat): the rekey's transcript prefix
 * lv_cat("weave-agent v2 rekey", previous transcript hash, u32 epoch), then with the same drawn
 * secrets the records of steps 1–4 the two machines exchange and the per-purpose keys both
 * install, byte for byte.
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import { sha256 } from "@noble/hashes/sha2.js";
import { hex } from "../../tests/lab/openssl.ts";
import { pythonJson } from "../../tests/tools/python_ref.ts";
import type { CoreOptions } from "./handshake_core.ts";
import { type RekeyAction, RekeyMachine, type RekeyMessage, rekeyPrefix } from "./rekey.ts";
import type { SessionKeySet } from "./key_schedule.ts";

const te = new TextEncoder();
const TOOLS = new URL("../../tests/tools/", import.meta.url).pathname;

/** Draw k of a side: SHA-256(seed ‖ k), as the reference draws them. */
function drawer(seed: Uint8Array): (n: number) => Uint8Array {
  let k = 0;
  return (n) => sha256(new Uint8Array([...seed, k++])).slice(0, n);
}

/** The reference's lv_cat prefix for a rekey. */
async function refPrefix(th: Uint8Array, epoch: number): Promise<string> {
  const py = `import sys, struct; sys.path.insert(0, sys.argv[1])
from cpace_ref import lv_cat
print(lv_cat(b"weave-agent v2 rekey", bytes.fromhex(sys.argv[2]), struct.pack(">I", int(sys.argv[3]))).hex())`;
  const o = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", py, TOOLS, hex(th), String(epoch)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!o.success) throw new Error(new TextDecoder().decode(o.stderr));
  return new TextDecoder().decode(o.stdout).trim();
}

const b64hex = (s: string) => hex(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));

Deno.test("rekey KAT: prefix, records and keys as the Python reference computes them", async () => {
  const th = crypto.getRandomValues(new Uint8Array(32));
  const seedI = crypto.getRandomValues(new Uint8Array(16));
  const seedR = crypto.getRandomValues(new Uint8Array(16));
  const pw = "the fleet's password for the rekey KAT";
  const mk = (role: "initiator" | "responder", name: string, peer: string, seed: Uint8Array) =>
    new RekeyMachine({
      role,
      peerName: peer,
      transcriptHash: th,
      establishedAt: 0,
      coreOptions: (): CoreOptions => ({
        localName: name,
        passwords: { current: te.encode(pw) },
        localIndex: role === "initiator" ? 0x1001 : 0x2002,
        random: drawer(seed),
      }),
    });
  const i = mk("initiator", "alpha", "beta", seedI), r = mk("responder", "beta", "alpha", seedR);
  const sent: RekeyMessage[] = [];
  const installed: SessionKeySet[] = [];
  const queue: [RekeyMachine, RekeyAction][] = i.tick(120_000).map((a) => [i, a]);
  while (queue.length) {
    const [from, a] = queue.shift()!;
    if (a.type === "install-rx") installed.push(structuredClone(a.keys));
    if (a.type !== "send") continue;
    sent.push(a.msg);
    const to = from === i ? r : i;
    for (const b of to.receive(a.msg, 120_000)) queue.push([to, b]);
  }
  deepStrictEqual(sent.map((m) => m.step), [1, 2, 3, 4, 5, 6]);
  const prefix = await refPrefix(th, 1);
  strictEqual(hex(rekeyPrefix(th, 1)), prefix);
  const side = (name: string, seed: Uint8Array, index: number) => ({
    name,
    seed: hex(seed),
    passwords: [hex(te.encode(pw))],
    node_key: null,
    index,
  });
  const ref = await pythonJson<{ m1: string; m2: string; m3: string; m4: string; keys: unknown }>(
    "handshake_ref.py",
    { prefix, dialer: side("alpha", seedI, 0x1001), listener: side("beta", seedR, 0x2002) },
  );
  const dir = (x: SessionKeySet["dialerToListener"]) => ({
    control: hex(x.control),
    sleeve: hex(x.sleeve),
    esp: hex(x.esp.key),
    spi: x.esp.spi,
  });
  strictEqual(installed.length, 2);
  deepStrictEqual(installed[0], installed[1]);
  const k = installed[0];
  deepStrictEqual(
    {
      m1: b64hex(sent[0].records!),
      m2: b64hex(sent[1].records!),
      m3: b64hex(sent[2].records!),
      m4: b64hex(sent[3].records!),
      keys: { d2l: dir(k.dialerToListener), l2d: dir(k.listenerToDialer) },
    },
    { m1: ref.m1, m2: ref.m2, m3: ref.m3, m4: ref.m4, keys: ref.keys },
  );
});
