/**
 * The v2 handshake over real loopback TCP: one set of keys on both ends, the mismatch text on
 * both sides, the previous password during a rollout (current preferred), node keys (right key
 * accepted, missing / other / unproven key refused), version refusals (v1 peers), replayed
 * handshakes, malformed records.
 */

import { deepStrictEqual, notDeepStrictEqual, rejects, strictEqual, throws } from "node:assert";
import { x25519 } from "@noble/curves/ed25519.js";
import { hex } from "../../tests/lab/openssl.ts";
import { FrameReader } from "./frame_reader.ts";
import {
  acceptHandshake,
  agreeOnSession,
  checkHeader,
  classifyAuthFailure,
  encodeHeader,
  encodeHello,
  encodeRecord,
  HandshakeError,
  type HandshakeOptions,
  type HandshakeResult,
  HEADER_BYTES,
  type NodeKeyPair,
  parseHello,
  RecordKind,
  runHandshake,
} from "./handshake.ts";
import { type ByteStream, DenoConnStream, dialTcp } from "./tcp_stream.ts";
import { WireError } from "./wire_error.ts";

const te = new TextEncoder();
const PW = te.encode("correct horse battery staple 1234");
const OTHER = te.encode("another password entirely 999");

function nodeKey(): NodeKeyPair {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

Deno.test("header: protocol name and version negotiation; v1 is refused", () => {
  strictEqual(hex(encodeHeader()), hex(te.encode("weave-agent\0")) + "0303");
  deepStrictEqual(checkHeader(encodeHeader()), { ok: true, version: 3 });
  deepStrictEqual(checkHeader(encodeHeader({ min: 0, max: 3 })), { ok: true, version: 3 });
  deepStrictEqual(checkHeader(encodeHeader({ min: 1, max: 7 })), { ok: true, version: 3 });
  // Version 2's rekey could desync: a version-2 agent is refused.
  const v2 = checkHeader(encodeHeader({ min: 2, max: 2 }));
  strictEqual(
    !v2.ok && v2.message,
    "incompatible protocol versions: peer speaks 2..2, this agent 3..3",
  );
  const v1 = checkHeader(encodeHeader({ min: 1, max: 1 }));
  strictEqual(
    !v1.ok && v1.message,
    "incompatible protocol versions: peer speaks 1..1, this agent 3..3",
  );
  const future = checkHeader(encodeHeader({ min: 4, max: 5 }));
  strictEqual(!future.ok && future.reason, "bad-version");
  const inverted = checkHeader(encodeHeader({ min: 2, max: 0 }));
  strictEqual(!inverted.ok && inverted.reason, "bad-version");
  const other = checkHeader(te.encode("weave-agenT\0\x02\x02"));
  strictEqual(!other.ok && other.reason, "bad-header");
  strictEqual(checkHeader(new Uint8Array(3)).ok, false);
});

Deno.test("HELLO: round trip with and without a node key; malformed bodies are garbage", () => {
  const h = {
    nonce: new Uint8Array(32).fill(2),
    ephemeral: new Uint8Array(32).fill(3),
    index: 0xdeadbeef,
    nodeKey: null,
    name: "edge-1",
  };
  const rec = encodeHello(h);
  strictEqual(rec[0], RecordKind.HELLO);
  strictEqual((rec[1] << 8) | rec[2], 69 + 6);
  deepStrictEqual(parseHello(rec.subarray(3)), h);
  const keyed = { ...h, nodeKey: new Uint8Array(32).fill(9) };
  deepStrictEqual(parseHello(encodeHello(keyed).subarray(3)), keyed);
  const garbage = (b: Uint8Array) =>
    throws(() => parseHello(b), (e) => e instanceof WireError && e.reason === "garbage");
  garbage(new Uint8Array(69)); // no name
  garbage(new Uint8Array(69 + 64)); // name too long
  garbage(new Uint8Array([...new Uint8Array(69), 0xff, 0xfe])); // not UTF-8
  garbage(new Uint8Array([...new Uint8Array(69), 0x61, 0x0a])); // newline in name
  garbage(new Uint8Array([2, ...new Uint8Array(68), 0x61])); // unknown flag
  garbage(new Uint8Array([1, ...new Uint8Array(68), 0x61])); // flag says key, too short for one
  throws(() => encodeHello({ ...h, name: "" }), RangeError);
});

/** A dialled and an accepted end of one loopback TCP connection. */
async function tcpPair(): Promise<
  { dialer: ByteStream; listener: ByteStream; close(): void }
> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [dialer, conn] = await Promise.all([
    dialTcp({ hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port, timeoutMs: 2000 }),
    l.accept(),
  ]);
  l.close();
  const listener = new DenoConnStream(conn);
  return {
    dialer,
    listener,
    close() {
      dialer.close();
      listener.close();
    },
  };
}

type Side = Partial<HandshakeOptions>;

async function handshakePair(d: Side = {}, l: Side = {}) {
  const p = await tcpPair();
  const dr = new FrameReader(p.dialer), lr = new FrameReader(p.listener);
  const results = await Promise.allSettled([
    runHandshake({
      stream: p.dialer,
      reader: dr,
      role: "dialer",
      localName: "alpha",
      password: PW,
      remoteAddress: "127.0.0.1",
      expectedPeer: "beta",
      ...d,
    }).catch((e) => {
      p.dialer.close(); // as the manager does: a failed end closes its connection
      throw e;
    }),
    runHandshake({
      stream: p.listener,
      reader: lr,
      role: "listener",
      localName: "beta",
      password: PW,
      remoteAddress: "127.0.0.1",
      admit: () => null,
      ...l,
    }).catch((e) => {
      p.listener.close();
      throw e;
    }),
  ]);
  return { ...p, dr, lr, results };
}

function value<T>(r: PromiseSettledResult<T>): T {
  if (r.status === "rejected") throw r.reason;
  return r.value;
}

function failure(r: PromiseSettledResult<unknown>): WireError {
  if (r.status === "fulfilled") throw new Error("expected the handshake to fail");
  if (!(r.reason instanceof WireError)) throw r.reason;
  return r.reason;
}

function sameKeys(d: HandshakeResult, l: HandshakeResult) {
  deepStrictEqual(d.sessionKey, l.sessionKey);
  deepStrictEqual(d.transcriptHash, l.transcriptHash);
  deepStrictEqual(d.keys, l.keys);
}

Deno.test("handshake: both ends derive one set of keys and talk over the sealed channel", async () => {
  const h = await handshakePair({ localIndex: 7 }, { localIndex: 9 });
  try {
    const [d, l] = [value(h.results[0]), value(h.results[1])] as HandshakeResult[];
    strictEqual(d.peerName, "beta");
    strictEqual(l.peerName, "alpha");
    sameKeys(d, l);
    deepStrictEqual(d.dialerNonce, l.dialerNonce);
    deepStrictEqual(d.listenerNonce, l.listenerNonce);
    notDeepStrictEqual(d.dialerNonce, d.listenerNonce);
    deepStrictEqual([d.keys.dialerIndex, d.keys.listenerIndex], [7, 9]);
    strictEqual(d.localIsDialer && !l.localIsDialer, true);
    strictEqual(d.authenticated && l.authenticated, true);
    deepStrictEqual([d.password, l.password, d.version], ["current", "current", 3]);
    // Every purpose and direction has its own key.
    const all = [d.keys.dialerToListener, d.keys.listenerToDialer].flatMap((k) => [
      hex(k.control),
      hex(k.sleeve),
      hex(k.esp.key),
    ]);
    strictEqual(new Set(all).size, 6);
    // "alpha" < "beta": the dialer decides.
    const [vd, vl] = await Promise.all([
      agreeOnSession(d, { stream: h.dialer, reader: h.dr, decider: true, remoteAddress: "x" }),
      agreeOnSession(l, { stream: h.listener, reader: h.lr, decider: false, remoteAddress: "x" }),
    ]);
    strictEqual(vd, "keep");
    strictEqual(vl, "keep");
    await h.listener.write(l.channel.seal({ type: "caps", n: 1 }));
    deepStrictEqual(d.channel.open((await h.dr.frame())!), { type: "caps", n: 1 });
    await h.dialer.write(d.channel.seal({ type: "macs" }));
    deepStrictEqual(l.channel.open((await h.lr.frame())!), { type: "macs" });
  } finally {
    h.close();
  }
});

Deno.test("handshake: a new connection never reuses keys; no password means unauthenticated", async () => {
  const a = await handshakePair({ password: null }, { password: null });
  const b = await handshakePair({ password: null }, { password: null });
  try {
    const [ad, al] = [value(a.results[0]), value(a.results[1])];
    strictEqual(ad.authenticated || al.authenticated, false);
    deepStrictEqual(ad.sessionKey, al.sessionKey);
    notDeepStrictEqual(ad.sessionKey, value(b.results[0]).sessionKey);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("handshake: wrong password is reported as the same mismatch text on both sides", async () => {
  const h = await handshakePair({}, { password: OTHER });
  try {
    const [d, l] = [failure(h.results[0]), failure(h.results[1])];
    strictEqual(d.reason, "auth");
    strictEqual(l.reason, "auth");
    strictEqual(d.message, "password mismatch with peer beta at 127.0.0.1");
    strictEqual(l.message, "password mismatch with peer alpha at 127.0.0.1");
    // No node keys: the dialer reached the configured address, so its view is the peer's;
    // the listener cannot know who connected.
    deepStrictEqual(
      classifyAuthFailure(d as HandshakeError, { dialled: true, remoteAddress: "127.0.0.1" }),
      { genuine: true, message: "password mismatch with peer beta at 127.0.0.1" },
    );
    deepStrictEqual(
      classifyAuthFailure(l as HandshakeError, { dialled: false, remoteAddress: "127.0.0.1" }),
      {
        genuine: false,
        message:
          "failed handshake from 127.0.0.1 (claiming alpha): password mismatch with peer alpha",
      },
    );
  } finally {
    h.close();
  }
  // One side with, one without a password: also a mismatch, never a session.
  const n = await handshakePair({ password: null }, {});
  try {
    strictEqual(failure(n.results[0]).reason, "auth");
    strictEqual(failure(n.results[1]).reason, "auth");
  } finally {
    n.close();
  }
});

Deno.test("handshake: previous password during a rollout; current preferred, never a downgrade", async () => {
  const cases: [Side, Side, string, string][] = [
    // Dialer moved first: {B, prev A} against {A}.
    [{ password: OTHER, previousPassword: PW }, {}, "previous", "current"],
    // Listener moved first.
    [{}, { password: OTHER, previousPassword: PW }, "current", "previous"],
    // Both moved: the current one, though both also hold the previous.
    [
      { password: OTHER, previousPassword: PW },
      { password: OTHER, previousPassword: PW },
      "current",
      "current",
    ],
    // Each side's previous is the other's current: the dialer's current wins.
    [{ password: OTHER, previousPassword: PW }, { previousPassword: OTHER }, "current", "previous"],
  ];
  for (const [d, l, wantD, wantL] of cases) {
    const h = await handshakePair(d, l);
    try {
      const [rd, rl] = [value(h.results[0]), value(h.results[1])];
      sameKeys(rd, rl);
      deepStrictEqual([rd.password, rl.password], [wantD, wantL]);
    } finally {
      h.close();
    }
  }
  // Neither of the listener's passwords: mismatch.
  const m = await handshakePair({ password: te.encode("x".repeat(20)) }, {
    password: OTHER,
    previousPassword: PW,
  });
  try {
    strictEqual(failure(m.results[0]).message, "password mismatch with peer beta at 127.0.0.1");
  } finally {
    m.close();
  }
});

Deno.test("handshake: node keys — the right key is accepted and proved both ways", async () => {
  const ka = nodeKey(), kb = nodeKey();
  const keys: Record<string, Uint8Array> = { alpha: ka.publicKey, beta: kb.publicKey };
  const peerKey = (n: string) => keys[n] ?? null;
  const h = await handshakePair({ nodeKey: ka, peerKey }, { nodeKey: kb, peerKey });
  try {
    const [d, l] = [value(h.results[0]), value(h.results[1])];
    sameKeys(d, l);
    strictEqual(d.peerProvedKey && l.peerProvedKey, true);
  } finally {
    h.close();
  }
  // Keys on both boxes but configured on neither: still one session, nothing proved.
  const n = await handshakePair({ nodeKey: ka }, { nodeKey: kb });
  try {
    sameKeys(value(n.results[0]), value(n.results[1]));
    strictEqual(value(n.results[0]).peerProvedKey, false);
  } finally {
    n.close();
  }
});

Deno.test("handshake: node keys — a missing, other or unproven key is refused before the password counts", async () => {
  const ka = nodeKey(), impostor = nodeKey();
  const peerKey = (n: string) => (n === "alpha" ? ka.publicKey : null);
  // No key at all, another key, and the real public key without its private key.
  const claims: [NodeKeyPair | null, string][] = [
    [null, "peer alpha must prove the node key weave.yaml gives it"],
    [impostor, "peer alpha presented a node key other than the one in weave.yaml"],
    [
      { privateKey: impostor.privateKey, publicKey: ka.publicKey },
      "peer alpha failed to prove its node key",
    ],
  ];
  for (const [claim, why] of claims) {
    const h = await handshakePair({ nodeKey: claim }, { peerKey });
    try {
      const [d, l] = [failure(h.results[0]), failure(h.results[1])];
      strictEqual(d.reason, "refused");
      strictEqual(d.message, `peer beta at 127.0.0.1 refused the connection: ${why}`);
      strictEqual(l instanceof HandshakeError && l.failure, "key");
      const view = classifyAuthFailure(l as HandshakeError, {
        dialled: false,
        remoteAddress: "127.0.0.1",
      });
      deepStrictEqual(view, {
        genuine: false,
        message: `failed handshake from 127.0.0.1 (claiming alpha): ${why}`,
      });
    } finally {
      h.close();
    }
  }
  // The real key with the wrong password: a genuine mismatch of the real peer, on both sides.
  const kb = nodeKey();
  const both = (n: string) => (n === "alpha" ? ka.publicKey : kb.publicKey);
  const g = await handshakePair({ nodeKey: ka, peerKey: both, password: OTHER }, {
    nodeKey: kb,
    peerKey: both,
  });
  try {
    for (
      const [r, dialled, peer] of [[g.results[0], true, "beta"], [
        g.results[1],
        false,
        "alpha",
      ]] as const
    ) {
      const e = failure(r) as HandshakeError;
      strictEqual(e.peerProvedKey, true, `${peer}`);
      deepStrictEqual(classifyAuthFailure(e, { dialled, remoteAddress: "127.0.0.1" }), {
        genuine: true,
        message: `password mismatch with peer ${peer} at 127.0.0.1`,
      });
    }
  } finally {
    g.close();
  }
});

/** Records everything written through a stream. */
class Recording implements ByteStream {
  written: Uint8Array[] = [];
  constructor(private readonly inner: ByteStream) {}
  read(p: Uint8Array) {
    return this.inner.read(p);
  }
  write(d: Uint8Array) {
    this.written.push(d.slice());
    return this.inner.write(d);
  }
  close() {
    this.inner.close();
  }
}

Deno.test("handshake: a recorded dialer handshake replayed later fails confirmation", async () => {
  const p = await tcpPair();
  const rec = new Recording(p.dialer);
  const [d] = await Promise.allSettled([
    runHandshake({
      stream: rec,
      reader: new FrameReader(rec),
      role: "dialer",
      localName: "alpha",
      password: PW,
      remoteAddress: "127.0.0.1",
      expectedPeer: "beta",
    }),
    acceptHandshake({
      stream: p.listener,
      reader: new FrameReader(p.listener),
      localName: "beta",
      password: PW,
      remoteAddress: "127.0.0.1",
      admit: () => null,
    }),
  ]);
  value(d);
  p.close();
  const recorded = rec.written;
  strictEqual(recorded.length, 2); // header ‖ HELLO, then SHARES ‖ CONFIRM

  const q = await tcpPair();
  try {
    const replay = (async () => {
      await q.dialer.write(recorded[0]);
      const r = new FrameReader(q.dialer);
      await r.bytes(HEADER_BYTES + (3 + 69 + 4) + (3 + 32)); // the listener's header, HELLO, SHARES
      await q.dialer.write(recorded[1]);
      return await r.bytes(3); // its verdict
    })();
    const l = await acceptHandshake({
      stream: q.listener,
      reader: new FrameReader(q.listener),
      localName: "beta",
      password: PW,
      remoteAddress: "127.0.0.1",
      admit: () => null,
    }).catch((e) => {
      q.listener.close();
      return e;
    });
    strictEqual(l instanceof WireError && l.reason, "auth");
    deepStrictEqual(await replay, new Uint8Array([RecordKind.AUTH_FAILED, 0, 0]));
  } finally {
    q.close();
  }
});

Deno.test("handshake: incompatible versions (a v1 agent) are refused with a plaintext reason", async () => {
  const h = await handshakePair({ versions: { min: 1, max: 1 } }, {});
  try {
    const [d, l] = [failure(h.results[0]), failure(h.results[1])];
    strictEqual(d.reason, "bad-version");
    strictEqual(l.reason, "bad-version");
    strictEqual(
      l.message,
      "127.0.0.1: incompatible protocol versions: peer speaks 1..1, this agent 3..3",
    );
    strictEqual(d.message.includes("peer beta at 127.0.0.1"), true, d.message);
  } finally {
    h.close();
  }
  // What a listener sends to an older or newer agent: its header, then REFUSE with the reason.
  const p = await tcpPair();
  try {
    const l = acceptHandshake({
      stream: p.listener,
      reader: new FrameReader(p.listener),
      localName: "beta",
      password: PW,
      remoteAddress: "127.0.0.1",
    }).catch((e) => e);
    await p.dialer.write(encodeHeader({ min: 1, max: 1 }));
    const r = new FrameReader(p.dialer);
    deepStrictEqual(await r.bytes(HEADER_BYTES), encodeHeader());
    const head = await r.bytes(3);
    strictEqual(head[0], RecordKind.REFUSE);
    const reason = new TextDecoder().decode(await r.bytes((head[1] << 8) | head[2]));
    strictEqual(reason, "incompatible protocol versions: peer speaks 1..1, this agent 3..3");
    strictEqual((await l).reason, "bad-version");
  } finally {
    p.close();
  }
});

Deno.test("handshake: refusals, wrong names, low-order shares and garbage records", async () => {
  // The listener refuses the name: the dialer reports the listener's reason.
  const r = await handshakePair({}, { admit: (n) => `peer name ${n} is not in weave.yaml` });
  try {
    const d = failure(r.results[0]);
    strictEqual(d.reason, "refused");
    strictEqual(
      d.message,
      "peer beta at 127.0.0.1 refused the connection: peer name alpha is not in weave.yaml",
    );
    strictEqual(failure(r.results[1]).reason, "unknown-peer");
  } finally {
    r.close();
  }
  // Someone else answers where we dialled.
  const w = await handshakePair({ expectedPeer: "gamma" }, {});
  try {
    strictEqual(failure(w.results[0]).reason, "unknown-peer");
  } finally {
    w.close();
  }
  const hello = encodeHello({
    nonce: new Uint8Array(32),
    ephemeral: x25519.getPublicKey(x25519.utils.randomSecretKey()),
    index: 1,
    nodeKey: null,
    name: "x",
  });
  // A record of unknown kind, an oversize record, a low-order CPace share after a valid HELLO.
  const lowOrderShares = [
    ...encodeRecord(RecordKind.SHARES, new Uint8Array(32)),
    ...encodeRecord(RecordKind.CONFIRM, new Uint8Array(33).fill(1, 0, 1)),
  ];
  for (
    const [bytes, why, afterReply] of [
      [[...encodeHeader(), ...encodeRecord(9, new Uint8Array(4))], "garbage", null],
      [[...encodeHeader(), RecordKind.HELLO, 0xff, 0xff], "oversize", null],
      [[...encodeHeader(), ...hello], "garbage", lowOrderShares],
      [[...encodeHeader(), ...hello], "garbage", [
        ...encodeRecord(RecordKind.SHARES, new Uint8Array(96)),
        ...encodeRecord(RecordKind.CONFIRM, new Uint8Array(1)),
      ]],
    ] as const
  ) {
    const p = await tcpPair();
    try {
      const l = acceptHandshake({
        stream: p.listener,
        reader: new FrameReader(p.listener),
        localName: "beta",
        password: PW,
        remoteAddress: "127.0.0.1",
        admit: () => null,
      });
      await p.dialer.write(new Uint8Array(bytes));
      if (afterReply) await p.dialer.write(new Uint8Array(afterReply));
      await rejects(l, (e) => e instanceof WireError && e.reason === why);
    } finally {
      p.close();
    }
  }
});
