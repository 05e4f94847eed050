/**
 * The sealed control channel: ChaCha20-Poly1305 as libsodium computes it (python3-nacl), and
 * the rejection of forged, replayed, reordered and cross-direction frames.
 */

import { deepStrictEqual, strictEqual, throws } from "node:assert";
import { hex, run } from "../../tests/lab/openssl.ts";
import {
  controlNonce,
  openControl,
  sealControl,
  SecureChannel,
  TAG_BYTES,
} from "./secure_channel.ts";
import { WireError } from "./wire_error.ts";
import { MAX_FRAME_BYTES } from "./frame_reader.ts";

const td = new TextDecoder();

async function naclSeal(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Promise<string> {
  const py = `import sys, nacl.bindings as b
k, n, m = (bytes.fromhex(x) for x in sys.argv[1:4])
print(b.crypto_aead_chacha20poly1305_ietf_encrypt(m, None, n, k).hex())`;
  return td.decode(await run("/usr/bin/python3", ["-c", py, hex(key), hex(nonce), hex(msg)]))
    .trim();
}

Deno.test("control AEAD: polarity ‖ seq nonce, sealed as libsodium seals it", async () => {
  const key = new Uint8Array(32).map((_, i) => 0x80 + i);
  for (const [polarity, seq] of [[0, 0n], [1, 0n], [1, 0x0102030405060708n]] as const) {
    const nonce = controlNonce(polarity, seq);
    strictEqual(nonce.length, 12);
    strictEqual(nonce[3], polarity);
    const msg = new TextEncoder().encode(`{"type":"heartbeat","t":${seq}}`);
    const ours = sealControl(key, polarity, seq, msg);
    strictEqual(hex(ours), await naclSeal(key, nonce, msg));
    deepStrictEqual(openControl(key, polarity, seq, ours), msg);
  }
  // Fixed vector, so a change of nonce layout cannot pass unnoticed even with python missing.
  strictEqual(hex(controlNonce(1, 42n)), "00000001000000000000002a");
});

function pair() {
  const d2l = crypto.getRandomValues(new Uint8Array(32));
  const l2d = crypto.getRandomValues(new Uint8Array(32));
  return {
    dialer: new SecureChannel(d2l, l2d, true),
    listener: new SecureChannel(l2d, d2l, false),
  };
}

const body = (frame: Uint8Array) => frame.subarray(4);

Deno.test("secure channel: messages flow both ways in order", () => {
  const { dialer, listener } = pair();
  for (let i = 0; i < 5; i++) {
    deepStrictEqual(listener.open(body(dialer.seal({ type: "caps", i }))), { type: "caps", i });
    deepStrictEqual(dialer.open(body(listener.seal({ type: "macs", i }))), { type: "macs", i });
  }
  strictEqual(dialer.sent, 5n);
  strictEqual(listener.received, 5n);
  const f = dialer.seal({ type: "x" });
  strictEqual(new DataView(f.buffer).getUint32(0), f.length - 4);
});

Deno.test("secure channel: replayed, reordered, forged and reflected frames are rejected", () => {
  const forged = (fn: () => unknown) =>
    throws(fn, (e) => e instanceof WireError && e.reason === "forged");
  {
    const { dialer, listener } = pair();
    const f1 = dialer.seal({ type: "a" });
    listener.open(body(f1));
    forged(() => listener.open(body(f1))); // replay
  }
  {
    const { dialer, listener } = pair();
    dialer.seal({ type: "a" });
    const f2 = dialer.seal({ type: "b" });
    forged(() => listener.open(body(f2))); // reordered: expects seq 0
  }
  {
    const { dialer, listener } = pair();
    const f = dialer.seal({ type: "a" }).slice();
    f[f.length - 1] ^= 1;
    forged(() => listener.open(body(f))); // tag flipped
    forged(() => listener.open(new Uint8Array(TAG_BYTES - 1)));
  }
  {
    const { dialer } = pair();
    forged(() => dialer.open(body(dialer.seal({ type: "a" })))); // reflected to its sender
  }
  {
    // Same key both ways still cannot cross: the polarity separates the nonces.
    const k = crypto.getRandomValues(new Uint8Array(32));
    const d = new SecureChannel(k, k, true);
    forged(() => d.open(body(d.seal({ type: "a" }))));
  }
});

Deno.test("secure channel: authenticated non-objects are garbage; oversize refused", () => {
  const k = crypto.getRandomValues(new Uint8Array(32));
  const l = new SecureChannel(k, k, false);
  for (const text of ["[1]", "null", '{"t":1}', "{not json", '{"type":5}']) {
    const sealed = sealControl(k, 0, l.received, new TextEncoder().encode(text));
    throws(() => l.open(sealed), (e) => e instanceof WireError && e.reason === "garbage");
  }
  const d = new SecureChannel(k, k, true);
  throws(() => d.seal({ type: "big", pad: "x".repeat(MAX_FRAME_BYTES) }), RangeError);
});

Deno.test("secure channel: a rekeyed receive key takes over at the peer's first frame under it", () => {
  const { dialer, listener } = pair();
  const oldFrame = dialer.seal({ type: "caps", i: 0 });
  listener.open(body(oldFrame));
  const next = crypto.getRandomValues(new Uint8Array(32));
  // The listener expects the new key, but the dialer still seals under the old one.
  listener.expectRecvKey(next.slice());
  deepStrictEqual(listener.open(body(dialer.seal({ type: "caps", i: 1 }))), { type: "caps", i: 1 });
  dialer.replaceSendKey(next.slice());
  const first = dialer.seal({ type: "caps", i: 2 });
  deepStrictEqual(listener.open(body(first)), { type: "caps", i: 2 });
  deepStrictEqual(listener.open(body(dialer.seal({ type: "caps", i: 3 }))), { type: "caps", i: 3 });
  strictEqual(listener.received, 2n);
  // The old key is gone: a frame under it, or the new key's first frame again, is rejected.
  for (const f of [oldFrame, first]) {
    throws(() => listener.open(body(f)), (e) => e instanceof WireError && e.reason === "forged");
  }
});
