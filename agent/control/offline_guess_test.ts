/**
 * The attack of #14 finding 1, played as an attacker would, over real loopback TCP: someone who
 * does not know the password runs the handshake against a real agent as far as it is allowed,
 * then tries every word of a 1,000-word dictionary that contains the right password offline
 * against whatever confirmation it received.
 *
 * - Against a small reconstruction of protocol v1's listener (session key SHA-256(DH ‖
 *   password), the listener's confirmation sent before the dialer proved anything), the
 *   dictionary finds the password: the bug.
 * - Against the v2 listener, the attacking dialer receives no confirmation at all (only CPace
 *   shares, then AUTH_FAILED), and no word reproduces anything it received.
 * - Against a v2 dialer (the attacker plays the listener it dialled and so does receive the
 *   dialer's tag), only the one word the attacker's share committed to can be tested: with a
 *   wrong guess no word matches; with the right guess the same recomputation does match (so
 *   the recomputation is the real one, and the only success is the online guess).
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import { x25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { calculateGenerator, scalarMult, scalarMultVfy } from "./cpace.ts";
import { FrameReader } from "./frame_reader.ts";
import { acceptHandshake, dialHandshake } from "./handshake.ts";
import {
  concat,
  encodeHeader,
  encodeHello,
  encodeRecord,
  encodeShares,
  HEADER_BYTES,
  parseDialerConfirm,
  parseHello,
  parseShares,
  readRecord,
  RecordKind,
} from "./handshake_wire.ts";
import {
  confirmTag,
  cpaceChannelId,
  cpaceSid,
  sharedSecret,
  slotIsk,
  slotSessionKey,
  transcriptHash,
} from "./key_schedule.ts";
import { confirmationMac, deriveSharedSecret, sessionKeyFromShared } from "./session_keys.ts";
import { type ByteStream, DenoConnStream, dialTcp } from "./tcp_stream.ts";

const te = new TextEncoder();
const PASSWORD = "tulip-harbor-1987";

/** 1,000 words, the right password among them (not first, not last). */
const DICTIONARY: string[] = Array.from(
  { length: 1000 },
  (_, i) => (i === 613 ? PASSWORD : `${["tulip", "harbor", "maple", "quartz"][i % 4]}-${i}-1987`),
);

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

/** Every 32-byte window of what the attacker received: wherever a confirmation could hide. */
function windows(received: Uint8Array): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + 32 <= received.length; i++) out.add(hexOf(received.subarray(i, i + 32)));
  return out;
}

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * The v1 attack's offline step: with its own X25519 key and the peer's public value, the
 * attacker knows the DH; for each word, SHA-256(DH ‖ word), then the listener's confirmation
 * over the transcript. Returns the words whose confirmation is among `candidates`.
 */
function v1Guesses(
  ourPrivate: Uint8Array,
  theirPublic: Uint8Array,
  dn: Uint8Array,
  ln: Uint8Array,
  transcript: Uint8Array,
  candidates: Set<string>,
): string[] {
  let shared: Uint8Array;
  try {
    shared = deriveSharedSecret(ourPrivate, theirPublic);
  } catch {
    return [];
  }
  return DICTIONARY.filter((w) => {
    const key = sessionKeyFromShared(shared, te.encode(w));
    return candidates.has(hexOf(confirmationMac(key, dn, ln, "listener->dialer", transcript)));
  });
}

/** Protocol v1's listener, reconstructed from its construction (what the agent ran before v2). */
async function v1Listener(stream: ByteStream, password: Uint8Array): Promise<void> {
  const r = new FrameReader(stream);
  const v1Header = encodeHeader({ min: 1, max: 1 });
  const theirHeader = await r.bytes(HEADER_BYTES);
  const head = await r.bytes(3);
  const dHelloBody = await r.bytes((head[1] << 8) | head[2]);
  const priv = x25519.utils.randomSecretKey();
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const lHello = encodeRecord(
    RecordKind.HELLO,
    concat(x25519.getPublicKey(priv), nonce, te.encode("beta")),
  );
  const dHello = encodeRecord(RecordKind.HELLO, dHelloBody);
  const th = sha256(concat(theirHeader, v1Header, dHello, lHello));
  const key = sessionKeyFromShared(deriveSharedSecret(priv, dHelloBody.subarray(0, 32)), password);
  const mac = confirmationMac(key, dHelloBody.subarray(32, 64), nonce, "listener->dialer", th);
  // v1 sent its confirmation right away, before the dialer had proved anything.
  await stream.write(concat(v1Header, lHello, encodeRecord(RecordKind.CONFIRM, mac)));
}

Deno.test("offline guessing (#14 finding 1): v1's construction gives the password away", async () => {
  const p = await tcpPair();
  try {
    const listening = v1Listener(p.listener, te.encode(PASSWORD));
    // The attacker: its own key pair, any nonce, a peer's name; no password.
    const priv = x25519.utils.randomSecretKey();
    const dn = crypto.getRandomValues(new Uint8Array(32));
    const header = encodeHeader({ min: 1, max: 1 });
    const hello = encodeRecord(
      RecordKind.HELLO,
      concat(x25519.getPublicKey(priv), dn, te.encode("alpha")),
    );
    await p.dialer.write(concat(header, hello));
    const r = new FrameReader(p.dialer);
    const lHeader = await r.bytes(HEADER_BYTES);
    const lHello = await readRecord(r);
    const conf = await readRecord(r);
    await listening;
    strictEqual(conf.kind, RecordKind.CONFIRM);
    const th = sha256(
      concat(header, lHeader, hello, encodeRecord(RecordKind.HELLO, lHello.body)),
    );
    const found = v1Guesses(
      priv,
      lHello.body.subarray(0, 32),
      dn,
      lHello.body.subarray(32, 64),
      th,
      windows(conf.body),
    );
    deepStrictEqual(found, [PASSWORD]);
  } finally {
    p.close();
  }
});

Deno.test("offline guessing (#14 finding 1): a v2 listener gives an attacking dialer nothing to test", async () => {
  const p = await tcpPair();
  try {
    const listening = acceptHandshake({
      stream: p.listener,
      reader: new FrameReader(p.listener),
      localName: "beta",
      password: te.encode(PASSWORD),
      remoteAddress: "127.0.0.1",
      admit: () => null,
    }).catch((e) => e);
    // As far as it is allowed: a HELLO, then a share and a tag under a guessed password, all
    // from secrets the attacker keeps (its E and its CPace scalar).
    const e = x25519.utils.randomSecretKey();
    const dn = crypto.getRandomValues(new Uint8Array(32));
    const dHello = encodeHello({
      nonce: dn,
      ephemeral: x25519.getPublicKey(e),
      index: 1,
      nodeKey: null,
      name: "alpha",
    });
    const header = encodeHeader();
    await p.dialer.write(concat(header, dHello));
    const r = new FrameReader(p.dialer);
    const lHeader = await r.bytes(HEADER_BYTES);
    const lHello = await readRecord(r);
    const lShares = await readRecord(r);
    const ln = parseHello(lHello.body).nonce;
    const yb = parseShares(lShares.body)[0];
    const sid = cpaceSid(dn, ln);
    const ya = crypto.getRandomValues(new Uint8Array(32));
    const share = scalarMult(
      ya,
      calculateGenerator(te.encode("not-it"), cpaceChannelId("alpha", "beta"), sid),
    );
    const dShares = encodeShares([share]);
    const th = transcriptHash(concat(header, lHeader), [
      dHello,
      encodeRecord(RecordKind.HELLO, lHello.body),
      encodeRecord(RecordKind.SHARES, lShares.body),
      dShares,
    ]);
    const shared = sharedSecret(
      slotIsk(sid, scalarMultVfy(ya, yb), share, 0, yb, 0),
      null,
      null,
      th,
      0,
      0,
    );
    const tag = confirmTag(
      slotSessionKey(shared, te.encode("not-it")),
      th,
      "dialer->listener",
      0,
      0,
    );
    await p.dialer.write(
      concat(dShares, encodeRecord(RecordKind.CONFIRM, concat(new Uint8Array([1]), tag))),
    );
    const verdict = await readRecord(r);
    strictEqual((await listening).reason, "auth");
    // What came back: HELLO, SHARES, AUTH_FAILED. No confirmation of the listener at all.
    deepStrictEqual(
      [lHello.kind, lShares.kind, verdict.kind, verdict.body.length],
      [RecordKind.HELLO, RecordKind.SHARES, RecordKind.AUTH_FAILED, 0],
    );
    const candidates = windows(concat(lHeader, lHello.body, lShares.body, verdict.body));
    // The v1 recomputation, with each of the attacker's secrets against each public value the
    // listener sent, in both roles of the v1 transcript...
    for (const ours of [e, ya]) {
      for (const theirs of [parseHello(lHello.body).ephemeral, yb]) {
        deepStrictEqual(v1Guesses(ours, theirs, dn, ln, th, candidates), []);
      }
    }
    // ...and the v2 recomputation of the listener's tag for every word.
    const v2 = DICTIONARY.filter((w) =>
      candidates.has(
        hexOf(confirmTag(slotSessionKey(shared, te.encode(w)), th, "listener->dialer", 0, 0)),
      )
    );
    deepStrictEqual(v2, []);
  } finally {
    p.close();
  }
});

/**
 * The attacker as the listener a real v2 dialer reached: it sends a share for `guess` and
 * receives the dialer's tag; then recomputes that tag for every word of the dictionary with
 * the only secrets it has (its own scalar). Returns the words that reproduce it.
 */
async function attackDialer(guess: string): Promise<string[]> {
  const p = await tcpPair();
  try {
    const dialing = dialHandshake({
      stream: p.dialer,
      reader: new FrameReader(p.dialer),
      localName: "alpha",
      password: te.encode(PASSWORD),
      remoteAddress: "127.0.0.1",
      expectedPeer: "beta",
    }).catch((e) => e);
    const r = new FrameReader(p.listener);
    const dHeader = await r.bytes(HEADER_BYTES);
    const dHello = await readRecord(r);
    const dn = parseHello(dHello.body).nonce;
    const ln = crypto.getRandomValues(new Uint8Array(32));
    const ci = cpaceChannelId("alpha", "beta"), sid = cpaceSid(dn, ln);
    const yb = crypto.getRandomValues(new Uint8Array(32));
    const share = scalarMult(yb, calculateGenerator(te.encode(guess), ci, sid));
    const lHello = encodeHello({
      nonce: ln,
      ephemeral: x25519.getPublicKey(x25519.utils.randomSecretKey()),
      index: 1,
      nodeKey: null,
      name: "beta",
    });
    const lShares = encodeShares([share]);
    const header = encodeHeader();
    await p.listener.write(concat(header, lHello, lShares));
    const dShares = await readRecord(r);
    const dConfirm = await readRecord(r);
    p.listener.close();
    await dialing;
    const ya = parseShares(dShares.body)[0];
    const { tags } = parseDialerConfirm(dConfirm.body, 1, false);
    const th = transcriptHash(concat(dHeader, header), [
      encodeRecord(RecordKind.HELLO, dHello.body),
      lHello,
      lShares,
      encodeRecord(RecordKind.SHARES, dShares.body),
    ]);
    // Everything offline from here: K from its own scalar, then the v2 key schedule per word.
    const k = scalarMultVfy(yb, ya);
    const shared = sharedSecret(slotIsk(sid, k, ya, 0, share, 0), null, null, th, 0, 0);
    const target = hexOf(tags[0]);
    return DICTIONARY.filter((w) =>
      hexOf(confirmTag(slotSessionKey(shared, te.encode(w)), th, "dialer->listener", 0, 0)) ===
        target
    );
  } finally {
    p.close();
  }
}

Deno.test("offline guessing (#14 finding 1): a v2 dialer's tag tests only the attacker's one online guess", async () => {
  deepStrictEqual(await attackDialer("wrong-guess-42"), []);
  deepStrictEqual(await attackDialer(DICTIONARY[3]), []);
  // The same recomputation with the right guess matches: it is the real one.
  deepStrictEqual(await attackDialer(PASSWORD), [PASSWORD]);
});
