/**
 * CPace, the balanced PAKE of the CFRG (draft-irtf-cfrg-cpace, cipher suite
 * CPACE-X25519-SHA512), exactly as the draft specifies it: the string encodings (`prepend_len`,
 * `lv_cat`, `o_cat`), the generator (`generator_string` → SHA-512 → `decodeUCoordinate` →
 * Elligator 2), scalar sampling, `scalar_mult_vfy` with its neutral element, and the
 * intermediate session key ISK for the initiator-responder and the parallel ("oc") settings.
 *
 * Why a PAKE: the generator g is derived from the password, so a party's share Y = y·g commits
 * it to one password guess. Whoever does not know the password can at best choose one guess per
 * share it sends (one online guess), and a recorded run lets nobody test guesses offline: that
 * would need the discrete logarithm relation between two password-derived generators.
 *
 * Pure functions over bytes; the handshake (`handshake_core.ts`) decides the inputs. The draft's
 * own vectors are the known-answer tests (`cpace_test.ts`); `tests/tools/cpace_ref.py`
 * recomputes it independently (hashlib, python3-cryptography X25519, Elligator 2 by the draft's
 * Legendre-symbol formula).
 *
 * @module
 */

import { _map_to_curve_elligator2_curve25519 } from "@noble/curves/ed25519.js";
import { invert } from "@noble/curves/abstract/modular.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { x25519 } from "./x25519.ts";

/** G_X25519.DSI, the domain-separation identifier of the group. */
export const DSI: Uint8Array = new TextEncoder().encode("CPace255");
/** G.DSI ‖ "_ISK", the domain-separation identifier of the ISK hash. */
export const DSI_ISK: Uint8Array = new TextEncoder().encode("CPace255_ISK");
/** H.s_in_bytes of SHA-512: its input block size. */
export const SHA512_BLOCK_BYTES = 128;
/** G_X25519.field_size_bytes. */
export const FIELD_BYTES = 32;
/** G_X25519.field_size_bits. */
export const FIELD_BITS = 255;
/** G_X25519.I, the encoding of the neutral element: 32 zero bytes. */
export const IDENTITY: Uint8Array = new Uint8Array(FIELD_BYTES);

const P = (1n << 255n) - 19n;

/** `prepend_len`: the LEB128 encoding of the length, then the bytes. */
export function prependLen(data: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = data.length;
  do {
    const low = n & 0x7f;
    n = Math.floor(n / 128);
    len.push(n > 0 ? low | 0x80 : low);
  } while (n > 0);
  return concatBytes(new Uint8Array(len), data);
}

/** `lv_cat`: every argument with its length prepended, concatenated. */
export function lvCat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts.map(prependLen));
}

/** `lexiographically_larger(a, b)` of the draft: true if a > b. */
export function lexicographicallyLarger(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return a.length > b.length;
}

/** `o_cat`: "oc", then the lexicographically larger string, then the other. */
export function oCat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const oc = new Uint8Array([0x6f, 0x63]);
  return lexicographicallyLarger(a, b) ? concatBytes(oc, a, b) : concatBytes(oc, b, a);
}

/** `transcript_ir`: lv_cat(Ya, ADa) ‖ lv_cat(Yb, ADb), for fixed initiator and responder. */
export function transcriptIr(
  ya: Uint8Array,
  adA: Uint8Array,
  yb: Uint8Array,
  adB: Uint8Array,
): Uint8Array {
  return concatBytes(lvCat(ya, adA), lvCat(yb, adB));
}

/** `transcript_oc`: o_cat(lv_cat(Ya, ADa), lv_cat(Yb, ADb)), for the symmetric setting. */
export function transcriptOc(
  ya: Uint8Array,
  adA: Uint8Array,
  yb: Uint8Array,
  adB: Uint8Array,
): Uint8Array {
  return oCat(lvCat(ya, adA), lvCat(yb, adB));
}

/**
 * `generator_string(DSI, PRS, CI, sid, s_in_bytes)`: lv_cat(DSI, PRS, zero padding, CI, sid),
 * the padding sized so that DSI and PRS fill the first hash block (for short passwords).
 */
export function generatorString(
  dsi: Uint8Array,
  prs: Uint8Array,
  ci: Uint8Array,
  sid: Uint8Array,
  sInBytes: number = SHA512_BLOCK_BYTES,
): Uint8Array {
  const zpad = Math.max(0, sInBytes - 1 - prependLen(prs).length - prependLen(dsi).length);
  return lvCat(dsi, prs, new Uint8Array(zpad), ci, sid);
}

/** Every intermediate of `G_X25519.calculate_generator`, for known-answer tests. */
export interface GeneratorSteps {
  generatorString: Uint8Array;
  /** The first 32 bytes of SHA-512(generator string). */
  hash: Uint8Array;
  /** decodeUCoordinate(hash, 255), re-encoded as 32 little-endian bytes. */
  decoded: Uint8Array;
  /** The generator: the u-coordinate Elligator 2 maps the decoded field element to. */
  g: Uint8Array;
}

/** `G_X25519.calculate_generator(H = SHA-512, PRS, CI, sid)` with its intermediates. */
export function generatorSteps(
  prs: Uint8Array,
  ci: Uint8Array,
  sid: Uint8Array,
): GeneratorSteps {
  const genStr = generatorString(DSI, prs, ci, sid, SHA512_BLOCK_BYTES);
  const digest = sha512(genStr);
  const hash = digest.slice(0, FIELD_BYTES);
  digest.fill(0);
  const u = decodeUCoordinate(hash);
  const decoded = encodeUCoordinate(u);
  return { generatorString: genStr, hash, decoded, g: encodeUCoordinate(elligator2(u)) };
}

/** The generator g only (32 bytes): secret, since it is derived from the password. */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Uint8Array {
  const s = generatorSteps(prs, ci, sid);
  s.generatorString.fill(0);
  s.hash.fill(0);
  s.decoded.fill(0);
  return s.g;
}

/** `G_X25519.sample_scalar()`: 32 uniformly random bytes (X25519 clamps them). */
export function sampleScalar(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(FIELD_BYTES));
}

/** `G_X25519.scalar_mult(y, g)` = X25519(y, g). */
export function scalarMult(y: Uint8Array, g: Uint8Array): Uint8Array {
  return scalarMultVfy(y, g);
}

/**
 * `G_X25519.scalar_mult_vfy(y, X)` = X25519(y, X), or the neutral element I (32 zero bytes)
 * for a low-order point on the curve or its twist (also with bit 255 set).
 */
export function scalarMultVfy(y: Uint8Array, x: Uint8Array): Uint8Array {
  if (y.length !== FIELD_BYTES || x.length !== FIELD_BYTES) {
    throw new RangeError("X25519 scalars and points are 32 bytes");
  }
  // x25519.ts gives the all-zero output for low-order inputs: the draft's I.
  return x25519(y, x);
}

/** True when a point is the neutral element I: then the party MUST abort. */
export function isIdentity(p: Uint8Array): boolean {
  let d = 0;
  for (const b of p) d |= b;
  return d === 0;
}

/**
 * The u-coordinates of the points of order 1, 2, 4 and 8 on curve25519 and its twist (mod p,
 * bit 255 ignored): every X25519 with them yields the neutral element.
 */
const LOW_ORDER_U = new Set([
  0n,
  1n,
  P - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
]);

/** True for a public key whose X25519 results are always I: checkable before any ladder. */
export function isLowOrderU(u: Uint8Array): boolean {
  return u.length !== FIELD_BYTES || LOW_ORDER_U.has(decodeUCoordinate(u) % P);
}

/** ISK = SHA-512(lv_cat(DSI_ISK, sid, K) ‖ transcript): 64 bytes. */
export function intermediateSessionKey(
  sid: Uint8Array,
  k: Uint8Array,
  transcript: Uint8Array,
): Uint8Array {
  const prefix = lvCat(DSI_ISK, sid, k);
  const isk = sha512(concatBytes(prefix, transcript));
  prefix.fill(0);
  return isk;
}

/** ISK of the initiator-responder setting. */
export function iskIr(
  sid: Uint8Array,
  k: Uint8Array,
  ya: Uint8Array,
  adA: Uint8Array,
  yb: Uint8Array,
  adB: Uint8Array,
): Uint8Array {
  return intermediateSessionKey(sid, k, transcriptIr(ya, adA, yb, adB));
}

/** ISK of the parallel (symmetric) setting. */
export function iskOc(
  sid: Uint8Array,
  k: Uint8Array,
  ya: Uint8Array,
  adA: Uint8Array,
  yb: Uint8Array,
  adB: Uint8Array,
): Uint8Array {
  return intermediateSessionKey(sid, k, transcriptOc(ya, adA, yb, adB));
}

/** The optional public session id output: SHA-512("CPaceSidOutput" ‖ transcript). */
export function sidOutput(transcript: Uint8Array): Uint8Array {
  return sha512(concatBytes(new TextEncoder().encode("CPaceSidOutput"), transcript));
}

/** RFC 7748 decodeUCoordinate(u, 255): little-endian, bit 255 ignored. */
export function decodeUCoordinate(u: Uint8Array): bigint {
  if (u.length !== FIELD_BYTES) throw new RangeError("a u-coordinate is 32 bytes");
  let v = 0n;
  for (let i = FIELD_BYTES - 1; i >= 0; i--) {
    v = (v << 8n) | BigInt(i === FIELD_BYTES - 1 ? u[i] & 0x7f : u[i]);
  }
  return v;
}

/** RFC 7748 encodeUCoordinate: 32 little-endian bytes of u mod p. */
export function encodeUCoordinate(u: bigint): Uint8Array {
  let v = ((u % P) + P) % P;
  const out = new Uint8Array(FIELD_BYTES);
  for (let i = 0; i < FIELD_BYTES; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** map_to_curve_elligator2 of RFC 9380 for curve25519: the u-coordinate only. */
export function elligator2(r: bigint): bigint {
  const { xMn, xMd } = _map_to_curve_elligator2_curve25519(((r % P) + P) % P);
  // The map answers a fraction (it is inversion-free); one inversion gives the u-coordinate.
  // Euclid's (noble's `invert`): 23 µs here, against 85 µs for x^(p-2) by square-and-multiply,
  // which was a tenth of a handshake's CPU. xMd = 1 + 2·r² is never 0 (−1/2 is no square).
  return (xMn * invert(xMd, P)) % P;
}

/** Concatenation of byte strings. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
