/**
 * Known-answer tests of the whole v2 handshake computation against an independent
 * implementation (tests/tools/handshake_ref.py: hashlib, hmac, python3-cryptography X25519 and
 * HKDF, CPace from tests/tools/cpace_ref.py): with the same drawn secrets, every record both
 * roles send, the transcript hash, the session key and every per-purpose key agree, for plain
 * runs, rollouts with previous passwords, node keys on one or both sides, and no password.
 */

import { deepStrictEqual } from "node:assert";
import { x25519 as X } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hex } from "../../tests/lab/openssl.ts";
import { pythonJson } from "../../tests/tools/python_ref.ts";
import { type CoreResult, DialerHandshake, ListenerHandshake } from "./handshake_core.ts";
import { localKeys } from "./key_schedule.ts";
import { encodeHeader } from "./handshake_wire.ts";

const te = new TextEncoder();

/** Draw k of a side: SHA-256(seed ‖ k), as the reference draws them. */
function drawer(seed: Uint8Array): (n: number) => Uint8Array {
  let k = 0;
  return (n) => sha256(new Uint8Array([...seed, k++])).slice(0, n);
}

interface SideSpec {
  name: string;
  passwords: (string | null)[];
  nodeKey: Uint8Array | null;
  index: number;
}

function bodyOf(
  records: Uint8Array,
  skip = 0,
): { kind: number; body: Uint8Array; rest: Uint8Array } {
  const r = records.subarray(skip);
  const len = (r[1] << 8) | r[2];
  return { kind: r[0], body: r.slice(3, 3 + len), rest: r.subarray(3 + len) };
}

function run(d: SideSpec, l: SideSpec, seedD: Uint8Array, seedL: Uint8Array, prefix: Uint8Array) {
  const pw = (s: SideSpec) => ({
    current: s.passwords[0] === null ? null : te.encode(s.passwords[0]),
    previous: s.passwords[1] === undefined || s.passwords[1] === null
      ? null
      : te.encode(s.passwords[1]),
  });
  const pair = (k: Uint8Array | null) => k ? { privateKey: k, publicKey: pubOf(k) } : null;
  const dialer = new DialerHandshake({
    localName: d.name,
    passwords: pw(d),
    nodeKey: pair(d.nodeKey),
    localIndex: d.index,
    random: drawer(seedD),
    expectedPeer: l.name,
  });
  const listener = new ListenerHandshake({
    localName: l.name,
    passwords: pw(l),
    nodeKey: pair(l.nodeKey),
    localIndex: l.index,
    random: drawer(seedL),
  });
  const m1 = dialer.hello;
  listener.hello(bodyOf(m1).body);
  const m2 = listener.reply(prefix);
  const h2 = bodyOf(m2);
  const s2 = bodyOf(h2.rest);
  const m3 = dialer.reply(h2.body, s2.body, prefix);
  const s3 = bodyOf(m3);
  const c3 = bodyOf(s3.rest);
  const out = listener.confirm(s3.body, c3.body);
  if (!out.ok) throw out.error;
  const rd: CoreResult = dialer.confirm(bodyOf(out.reply).body);
  deepStrictEqual(rd.keys, out.result.keys);
  // Each end's view: what one sends with, the other receives with; indices swapped.
  const [ld, ll] = [localKeys(rd.keys, true), localKeys(out.result.keys, false)];
  deepStrictEqual([ld.tx, ld.rx, ld.localIndex, ld.remoteIndex], [
    ll.rx,
    ll.tx,
    ll.remoteIndex,
    ll.localIndex,
  ]);
  deepStrictEqual([ld.localIndex, ld.txDirection, ll.txDirection], [d.index, 0, 1]);
  return { m1, m2, m3, m4: out.reply, result: rd };
}

function pubOf(k: Uint8Array): Uint8Array {
  return X.getPublicKey(k);
}

Deno.test("v2 handshake: records, transcript, session key and per-purpose keys as the Python reference computes them", async () => {
  const nk = () => crypto.getRandomValues(new Uint8Array(32));
  const cases: [SideSpec, SideSpec][] = [
    [
      { name: "alpha", passwords: ["fleet pw"], nodeKey: null, index: 1 },
      { name: "beta", passwords: ["fleet pw"], nodeKey: null, index: 2 },
    ],
    [
      { name: "edge-7", passwords: ["new pw B", "old pw A"], nodeKey: nk(), index: 0xfffffffe },
      { name: "hub", passwords: ["old pw A"], nodeKey: nk(), index: 77 },
    ],
    [
      { name: "a", passwords: ["B", "A"], nodeKey: null, index: 5 },
      { name: "b", passwords: ["A", "B"], nodeKey: nk(), index: 6 },
    ],
    [
      { name: "x-1", passwords: [null], nodeKey: nk(), index: 9 },
      { name: "x-2", passwords: [null], nodeKey: null, index: 10 },
    ],
  ];
  for (const [d, l] of cases) {
    const seedD = crypto.getRandomValues(new Uint8Array(16));
    const seedL = crypto.getRandomValues(new Uint8Array(16));
    const prefix = new Uint8Array([...encodeHeader(), ...encodeHeader()]);
    const ours = run(d, l, seedD, seedL, prefix);
    const side = (s: SideSpec, seed: Uint8Array) => ({
      name: s.name,
      seed: hex(seed),
      passwords: s.passwords.map((p) => (p === null ? null : hex(te.encode(p)))),
      node_key: s.nodeKey ? hex(s.nodeKey) : null,
      index: s.index,
    });
    const ref = await pythonJson<Record<string, unknown>>("handshake_ref.py", {
      prefix: hex(prefix),
      dialer: side(d, seedD),
      listener: side(l, seedL),
    });
    const k = ours.result.keys;
    const dir = (x: typeof k.dialerToListener) => ({
      control: hex(x.control),
      sleeve: hex(x.sleeve),
      esp: hex(x.esp.key),
      spi: x.esp.spi,
    });
    deepStrictEqual(
      {
        m1: hex(ours.m1),
        m2: hex(ours.m2),
        m3: hex(ours.m3),
        m4: hex(ours.m4),
        th: hex(ours.result.transcriptHash),
        session_key: hex(ours.result.sessionKey),
        pair: [ours.m4[3] >> 4, ours.m4[3] & 15],
        keys: { d2l: dir(k.dialerToListener), l2d: dir(k.listenerToDialer) },
      },
      ref,
      `${d.name} -> ${l.name}`,
    );
  }
});
