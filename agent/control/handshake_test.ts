/**
 * The handshake over real loopback TCP: agreement on one session key, key confirmation with
 * the exact mismatch text on both sides, version and protocol-name refusals with a plaintext
 * reason, replayed handshakes, malformed HELLOs.
 */

import { deepStrictEqual, notDeepStrictEqual, rejects, strictEqual, throws } from "node:assert";
import { hex, run } from "../../tests/lab/openssl.ts";
import { FrameReader } from "./frame_reader.ts";
import {
  agreeOnSession,
  checkHeader,
  encodeHeader,
  encodeHello,
  encodeRecord,
  type HandshakeOptions,
  type HandshakeResult,
  HEADER_BYTES,
  parseHello,
  RecordKind,
  runHandshake,
  transcriptHash,
} from "./handshake.ts";
import { type ByteStream, DenoConnStream, dialTcp } from "./tcp_stream.ts";
import { WireError } from "./wire_error.ts";

const te = new TextEncoder();
const PW = te.encode("correct horse battery staple 1234");

Deno.test("header: protocol name and version negotiation", () => {
  strictEqual(hex(encodeHeader()), hex(te.encode("weave-agent\0")) + "0101");
  deepStrictEqual(checkHeader(encodeHeader()), { ok: true, version: 1 });
  deepStrictEqual(checkHeader(encodeHeader({ min: 0, max: 1 })), { ok: true, version: 1 });
  deepStrictEqual(checkHeader(encodeHeader({ min: 1, max: 7 })), { ok: true, version: 1 });
  const future = checkHeader(encodeHeader({ min: 2, max: 3 }));
  strictEqual(future.ok, false);
  strictEqual(!future.ok && future.reason, "bad-version");
  strictEqual(
    !future.ok && future.message,
    "incompatible protocol versions: peer speaks 2..3, this agent 1..1",
  );
  const inverted = checkHeader(encodeHeader({ min: 1, max: 0 }));
  strictEqual(!inverted.ok && inverted.reason, "bad-version");
  const other = checkHeader(te.encode("weave-agenT\0\x01\x01"));
  strictEqual(!other.ok && other.reason, "bad-header");
  strictEqual(checkHeader(new Uint8Array(3)).ok, false);
});

Deno.test("HELLO: round trip, and malformed bodies are garbage", () => {
  const h = {
    publicKey: new Uint8Array(32).fill(1),
    nonce: new Uint8Array(32).fill(2),
    name: "edge-1",
  };
  const rec = encodeHello(h);
  strictEqual(rec[0], RecordKind.HELLO);
  strictEqual((rec[1] << 8) | rec[2], 70);
  deepStrictEqual(parseHello(rec.subarray(3)), h);
  const garbage = (b: Uint8Array) =>
    throws(() => parseHello(b), (e) => e instanceof WireError && e.reason === "garbage");
  garbage(new Uint8Array(64)); // no name
  garbage(new Uint8Array(64 + 64)); // name too long
  garbage(new Uint8Array([...new Uint8Array(64), 0xff, 0xfe])); // not UTF-8
  garbage(new Uint8Array([...new Uint8Array(64), 0x61, 0x0a])); // newline in name
  throws(() => encodeHello({ ...h, name: "" }), RangeError);
});

Deno.test("transcript hash is SHA-256 of the role-ordered parts, as openssl computes it", async () => {
  const parts = [
    encodeHeader(),
    encodeHeader({ min: 1, max: 2 }),
    te.encode("dialer hello"),
    te.encode("listener"),
  ];
  const all = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const expected = new TextDecoder().decode(await run("openssl", ["dgst", "-sha256", "-r"], all))
    .split(" ")[0];
  strictEqual(hex(transcriptHash(parts[0], parts[1], parts[2], parts[3])), expected);
});

/** A dialled and an accepted end of one loopback TCP connection. */
async function tcpPair(): Promise<{ dialer: ByteStream; listener: ByteStream; close(): void }> {
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

Deno.test("handshake: both ends derive one session key and talk over the sealed channel", async () => {
  const h = await handshakePair();
  try {
    const [d, l] = [value(h.results[0]), value(h.results[1])] as HandshakeResult[];
    strictEqual(d.peerName, "beta");
    strictEqual(l.peerName, "alpha");
    deepStrictEqual(d.sessionKey, l.sessionKey);
    deepStrictEqual(d.dialerNonce, l.dialerNonce);
    deepStrictEqual(d.listenerNonce, l.listenerNonce);
    notDeepStrictEqual(d.dialerNonce, d.listenerNonce);
    strictEqual(d.localIsDialer && !l.localIsDialer, true);
    strictEqual(d.authenticated && l.authenticated, true);
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
  const h = await handshakePair({}, { password: te.encode("another password entirely 999") });
  try {
    const [d, l] = [failure(h.results[0]), failure(h.results[1])];
    strictEqual(d.reason, "auth");
    strictEqual(l.reason, "auth");
    strictEqual(d.message, "password mismatch with peer beta at 127.0.0.1");
    strictEqual(l.message, "password mismatch with peer alpha at 127.0.0.1");
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
    runHandshake({
      stream: p.listener,
      reader: new FrameReader(p.listener),
      role: "listener",
      localName: "beta",
      password: PW,
      remoteAddress: "127.0.0.1",
      admit: () => null,
    }),
  ]);
  value(d);
  p.close();
  const recorded = rec.written;
  strictEqual(recorded.length, 2); // header ‖ HELLO, then CONFIRM

  const q = await tcpPair();
  try {
    const replay = (async () => {
      await q.dialer.write(recorded[0]);
      await q.dialer.write(recorded[1]);
      const r = new FrameReader(q.dialer);
      await r.bytes(HEADER_BYTES + (3 + 64 + 4) + (3 + 32)); // the listener's header, HELLO, CONFIRM
      return await r.bytes(3); // its verdict
    })();
    const l = await runHandshake({
      stream: q.listener,
      reader: new FrameReader(q.listener),
      role: "listener",
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

Deno.test("handshake: incompatible versions are refused with a plaintext reason", async () => {
  const h = await handshakePair({ versions: { min: 2, max: 2 } }, {});
  try {
    const [d, l] = [failure(h.results[0]), failure(h.results[1])];
    strictEqual(d.reason, "bad-version");
    strictEqual(l.reason, "bad-version");
    strictEqual(
      l.message,
      "127.0.0.1: incompatible protocol versions: peer speaks 2..2, this agent 1..1",
    );
    strictEqual(d.message.includes("peer beta at 127.0.0.1"), true, d.message);
  } finally {
    h.close();
  }
  // What a listener sends to an older or newer agent: its header, then REFUSE with the reason.
  const p = await tcpPair();
  try {
    const l = runHandshake({
      stream: p.listener,
      reader: new FrameReader(p.listener),
      role: "listener",
      localName: "beta",
      password: PW,
      remoteAddress: "127.0.0.1",
    }).catch((e) => e);
    await p.dialer.write(encodeHeader({ min: 9, max: 9 }));
    const r = new FrameReader(p.dialer);
    deepStrictEqual(await r.bytes(HEADER_BYTES), encodeHeader());
    const head = await r.bytes(3);
    strictEqual(head[0], RecordKind.REFUSE);
    const reason = new TextDecoder().decode(await r.bytes((head[1] << 8) | head[2]));
    strictEqual(reason, "incompatible protocol versions: peer speaks 9..9, this agent 1..1");
    strictEqual((await l).reason, "bad-version");
  } finally {
    p.close();
  }
});

Deno.test("handshake: refusals, wrong names, low-order keys and garbage records", async () => {
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
  // A low-order public key (all zero), a record of unknown kind, an oversize record.
  const zeroKey = encodeHello({
    publicKey: new Uint8Array(32),
    nonce: new Uint8Array(32),
    name: "x",
  });
  for (
    const [bytes, why] of [
      [[...encodeHeader(), ...zeroKey], "garbage"],
      [[...encodeHeader(), ...encodeRecord(9, new Uint8Array(4))], "garbage"],
      [[...encodeHeader(), RecordKind.HELLO, 0xff, 0xff], "oversize"],
    ] as const
  ) {
    const p = await tcpPair();
    try {
      const l = runHandshake({
        stream: p.listener,
        reader: new FrameReader(p.listener),
        role: "listener",
        localName: "beta",
        password: PW,
        remoteAddress: "127.0.0.1",
        admit: () => null,
      });
      await p.dialer.write(new Uint8Array(bytes));
      await rejects(l, (e) => e instanceof WireError && e.reason === why);
    } finally {
      p.close();
    }
  }
});
