/**
 * The key schedule of control protocol v2: how the password-bound CPace exchange, the optional
 * static node keys and the transcript become the session key and the keys of every purpose.
 * Pure functions over bytes; `handshake_core.ts` decides when each runs.
 *
 * For one pair of password slots (i of the dialer, j of the listener; slot 0 is the current
 * password, slot 1 the previous one):
 *
 *   CI       = lv_cat("weave-agent v2", dialer name, listener name)
 *   sid      = dialer nonce ‖ listener nonce                          (64 bytes)
 *   g        = CPace calculate_generator(SHA-512, PRS = password, CI, sid)
 *   K_ij     = X25519(ya_i, Yb_j) = X25519(yb_j, Ya_i)                 (CPace scalar_mult_vfy)
 *   ISK_ij   = CPace ISK (initiator-responder: A = dialer, ADa = [i], B = listener, ADb = [j])
 *   term_D   = X25519(s_D, E_L) = X25519(e_L, S_D)   only when the dialer has a node key
 *   term_L   = X25519(s_L, E_D) = X25519(e_D, S_L)   only when the listener has one
 *   TH       = SHA-256(prefix ‖ every handshake record, in the order sent)
 *   shared   = HKDF-SHA256(ikm = ISK_ij ‖ term_D ‖ term_L, salt = TH,
 *                          info = "weave-agent v2 shared" ‖ i ‖ j, 32)
 *   session key = SHA-256(shared ‖ password)          (the seed's step: `sessionKeyFromShared`)
 *   confirm  = HMAC-SHA256(HKDF(session key, TH, "weave-agent v2 confirm <direction>"), TH ‖ i ‖ j)
 *   key proof of a node key = HMAC-SHA256(term, "weave-agent v2 key proof <direction>" ‖ TH)
 *
 * Per-purpose keys (`deriveSessionKeySet`) are HKDF-SHA256(session key, salt = TH,
 * info = "weave-agent v2 <purpose> <direction>" ‖ u32 dialer index ‖ u32 listener index), so
 * no two purposes, directions, sessions or rekeys share a key, and a key is bound to the
 * datapath session indices both ends chose for it.
 *
 * @module
 */

import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, iskIr, lvCat } from "./cpace.ts";
import { type Direction, sessionKeyFromShared } from "./session_keys.ts";
import type { DirectionKeys, SessionKeySet } from "./session_key_set.ts";

const te = new TextEncoder();

/** The protocol label in CPace's channel identifier. */
export const CPACE_LABEL: Uint8Array = te.encode("weave-agent v2");

/** CPace channel identifier: lv_cat(label, dialer name, listener name). */
export function cpaceChannelId(dialerName: string, listenerName: string): Uint8Array {
  return lvCat(CPACE_LABEL, te.encode(dialerName), te.encode(listenerName));
}

/** CPace session id: both nonces, dialer's first. */
export function cpaceSid(dialerNonce: Uint8Array, listenerNonce: Uint8Array): Uint8Array {
  return concatBytes(dialerNonce, listenerNonce);
}

/** ISK of one slot pair; ADa = [i], ADb = [j]. */
export function slotIsk(
  sid: Uint8Array,
  k: Uint8Array,
  ya: Uint8Array,
  i: number,
  yb: Uint8Array,
  j: number,
): Uint8Array {
  return iskIr(sid, k, ya, new Uint8Array([i]), yb, new Uint8Array([j]));
}

/** The 32-byte password-bound shared secret of one slot pair (see the module doc). */
export function sharedSecret(
  isk: Uint8Array,
  termDialer: Uint8Array | null,
  termListener: Uint8Array | null,
  th: Uint8Array,
  i: number,
  j: number,
): Uint8Array {
  const ikm = concatBytes(isk, termDialer ?? new Uint8Array(0), termListener ?? new Uint8Array(0));
  const out = hkdf(
    sha256,
    ikm,
    th,
    concatBytes(te.encode("weave-agent v2 shared"), pair(i, j)),
    32,
  );
  ikm.fill(0);
  return out;
}

/** Session key of one slot pair: SHA-256(shared ‖ password), the seed's final step. */
export function slotSessionKey(shared: Uint8Array, password: Uint8Array | null): Uint8Array {
  return sessionKeyFromShared(shared, password);
}

/** Key confirmation of one direction for slot pair (i, j). */
export function confirmTag(
  sessionKey: Uint8Array,
  th: Uint8Array,
  direction: Direction,
  i: number,
  j: number,
): Uint8Array {
  const key = hkdf(sha256, sessionKey, th, te.encode(`weave-agent v2 confirm ${direction}`), 32);
  const tag = hmac(sha256, key, concatBytes(th, pair(i, j)));
  key.fill(0);
  return tag;
}

/** Proof of a node key: HMAC-SHA256 keyed by its static-ephemeral DH, over the transcript. */
export function keyProofTag(term: Uint8Array, th: Uint8Array, direction: Direction): Uint8Array {
  return hmac(sha256, term, concatBytes(te.encode(`weave-agent v2 key proof ${direction}`), th));
}

/** TH = SHA-256(prefix ‖ records): the transcript hash every tag and key is bound to. */
export function transcriptHash(prefix: Uint8Array, records: Uint8Array[]): Uint8Array {
  const h = sha256.create();
  h.update(prefix);
  for (const r of records) h.update(r);
  return h.digest();
}

export type { DirectionKeys, EspKey, SessionKeySet } from "./session_key_set.ts";

/** HKDF info of one purpose key: label ‖ u32 dialer index ‖ u32 listener index. */
export function purposeInfo(
  purpose: "control" | "sleeve" | "esp" | "esp spi",
  direction: Direction,
  dialerIndex: number,
  listenerIndex: number,
): Uint8Array {
  const idx = new Uint8Array(8);
  const v = new DataView(idx.buffer);
  v.setUint32(0, dialerIndex >>> 0);
  v.setUint32(4, listenerIndex >>> 0);
  return concatBytes(te.encode(`weave-agent v2 ${purpose} ${direction}`), idx);
}

/** SPIs 0..255 are reserved (RFC 4303); a derived SPI below 256 is moved above. */
function spiFrom(b: Uint8Array): number {
  const v = new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  return v < 0x100 ? v + 0x100 : v;
}

/** All per-purpose keys of one session (see the module doc). */
export function deriveSessionKeySet(
  sessionKey: Uint8Array,
  th: Uint8Array,
  dialerIndex: number,
  listenerIndex: number,
): SessionKeySet {
  const one = (direction: Direction): DirectionKeys => {
    const k = (p: "control" | "sleeve" | "esp" | "esp spi", n: number) =>
      hkdf(sha256, sessionKey, th, purposeInfo(p, direction, dialerIndex, listenerIndex), n);
    return {
      control: k("control", 32),
      sleeve: k("sleeve", 32),
      esp: { key: k("esp", 36), spi: spiFrom(k("esp spi", 4)) },
    };
  };
  return {
    dialerToListener: one("dialer->listener"),
    listenerToDialer: one("listener->dialer"),
    dialerIndex: dialerIndex >>> 0,
    listenerIndex: listenerIndex >>> 0,
  };
}

/** One end's view of a key set: what it sends with and receives with, and the indices. */
export interface LocalKeys {
  tx: DirectionKeys;
  rx: DirectionKeys;
  /** The index the peer puts in what it sends us (ours); the one we put in what we send. */
  localIndex: number;
  remoteIndex: number;
  /** 0 when this end dialled (its nonces use polarity 0), 1 when it accepted. */
  txDirection: 0 | 1;
}

/** The set from one end's side (the sleeve's tx/rx keys, ESP out/in SAs, indices). */
export function localKeys(s: SessionKeySet, localIsDialer: boolean): LocalKeys {
  return localIsDialer
    ? {
      tx: s.dialerToListener,
      rx: s.listenerToDialer,
      localIndex: s.dialerIndex,
      remoteIndex: s.listenerIndex,
      txDirection: 0,
    }
    : {
      tx: s.listenerToDialer,
      rx: s.dialerToListener,
      localIndex: s.listenerIndex,
      remoteIndex: s.dialerIndex,
      txDirection: 1,
    };
}

/**
 * Overwrites a set's sleeve and ESP keys, not its control keys (the control channel may still
 * seal or open with them): once the datapaths have taken their copies.
 */
export function wipeDatapathKeys(s: SessionKeySet): void {
  for (const d of [s.dialerToListener, s.listenerToDialer]) {
    d.sleeve.fill(0);
    d.esp.key.fill(0);
  }
}

/** Overwrites every key of a set (once the datapaths no longer use it). */
export function wipeSessionKeySet(s: SessionKeySet): void {
  for (const d of [s.dialerToListener, s.listenerToDialer]) {
    d.control.fill(0);
    d.sleeve.fill(0);
    d.esp.key.fill(0);
  }
}

function pair(i: number, j: number): Uint8Array {
  return new Uint8Array([i, j]);
}
