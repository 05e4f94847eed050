/**
 * X25519 (RFC 7748) for the handshake: libsodium's through FFI where it loads, else libcrypto's,
 * else @noble/curves. A fleet converging after a power cut runs thousands of handshakes at once,
 * each a handful of X25519 operations, and the JavaScript ladder costs about 1.4 ms each on a
 * small CPU where the C ones take a few tens of µs: on a 2-core box with 100 agents that was tens
 * of CPU seconds before the mesh could form. libsodium comes first because it is one call per
 * operation; OpenSSL 3 builds, fetches and frees key objects through its provider machinery for
 * each (five to seven calls, a name lookup under a lock and several allocations): in a profile
 * of the handshake benchmark libcrypto took a fifth of all CPU, mostly outside the ladder.
 *
 * All three clamp the scalar and ignore bit 255 of u, as RFC 7748 §5 says, and all give the
 * all-zero output for low-order points (callers check for it: CPace's `scalar_mult_vfy` answers
 * the neutral element, the DH of the handshake aborts). The known-answer tests (RFC 7748 §5.2
 * and §6.1, the CPace draft's vectors) run against each.
 *
 * @module
 */

import { x25519 as noble } from "@noble/curves/ed25519.js";
import { openLibcrypto, openLibsodium } from "../../datapath/sleeve/mod.ts";

/** Scalars and u-coordinates are 32 bytes. */
export const X25519_BYTES = 32;

/** Which implementation runs. */
export type X25519Backend = "libsodium" | "libcrypto" | "noble";

/** Every backend, fastest first. */
export const X25519_BACKENDS: readonly X25519Backend[] = ["libsodium", "libcrypto", "noble"];

/** OpenSSL's NID (and EVP_PKEY type) of X25519. */
const EVP_PKEY_X25519 = 1034;

const SYMBOLS = {
  EVP_PKEY_new_raw_private_key: {
    parameters: ["i32", "pointer", "buffer", "usize"],
    result: "pointer",
  },
  EVP_PKEY_new_raw_public_key: {
    parameters: ["i32", "pointer", "buffer", "usize"],
    result: "pointer",
  },
  EVP_PKEY_get_raw_public_key: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_CTX_new: { parameters: ["pointer", "pointer"], result: "pointer" },
  EVP_PKEY_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_derive_init: { parameters: ["pointer"], result: "i32" },
  EVP_PKEY_derive_set_peer: { parameters: ["pointer", "pointer"], result: "i32" },
  EVP_PKEY_derive: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** libsodium's two calls; both answer -1 for an all-zero result (and for low-order inputs). */
const SODIUM_SYMBOLS = {
  crypto_scalarmult_curve25519: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  crypto_scalarmult_curve25519_base: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

/**
 * libcrypto's EVP_PKEY symbols, loaded when this module is: once per process, before anything
 * runs that a resource check watches (a test's, or the first handshake's deadline). Null where
 * it cannot be loaded (no library, no FFI permission): then noble.
 */
const lib: Lib | null = openLibcrypto(SYMBOLS);
/** libsodium's, loaded likewise. */
const sodium = openLibsodium(SODIUM_SYMBOLS);

let forced: X25519Backend | null = null;

/** Whether `backend` loads here. */
export function x25519Has(backend: X25519Backend): boolean {
  return backend === "noble" || (backend === "libsodium" ? sodium !== null : lib !== null);
}

/** The implementation in use: the first of {@link X25519_BACKENDS} that loads. */
export function x25519Backend(): X25519Backend {
  return forced ?? X25519_BACKENDS.find(x25519Has)!;
}

/** Tests only: run on one implementation (null: the default choice again). */
export function forceX25519Backend(backend: X25519Backend | null): void {
  if (backend !== null && !x25519Has(backend)) throw new Error(`${backend} is not available`);
  forced = backend;
}

function check(what: string, b: Uint8Array): void {
  if (b.length !== X25519_BYTES) throw new RangeError(`X25519 ${what} must be 32 bytes`);
}

/**
 * X25519(scalar, u). The all-zero output (u of low order, on the curve or its twist) is
 * returned as such, never thrown: what it means is the caller's to say.
 */
export function x25519(scalar: Uint8Array, u: Uint8Array): Uint8Array {
  check("scalar", scalar);
  check("point", u);
  const backend = x25519Backend();
  if (backend === "libsodium") {
    const out = new Uint8Array(X25519_BYTES);
    // -1 is libsodium refusing a low-order u before or after its ladder: the product is zero.
    return sodium!.crypto_scalarmult_curve25519(out, scalar, u) === 0
      ? out
      : new Uint8Array(X25519_BYTES);
  }
  if (backend === "noble") {
    try {
      return noble.scalarMult(scalar, u);
    } catch {
      // noble refuses low-order points before its ladder; their product is zero.
      return new Uint8Array(X25519_BYTES);
    }
  }
  return libcryptoDerive(lib!, scalar, u);
}

/** X25519(scalar, 9): the public key of a private one. */
export function x25519Base(scalar: Uint8Array): Uint8Array {
  check("scalar", scalar);
  const backend = x25519Backend();
  if (backend === "noble") return noble.getPublicKey(scalar);
  if (backend === "libsodium") {
    const out = new Uint8Array(X25519_BYTES);
    // A clamped scalar is never zero mod the group order, so the base's multiple never is.
    if (sodium!.crypto_scalarmult_curve25519_base(out, scalar) !== 0) {
      throw new Error("libsodium: cannot compute an X25519 public key");
    }
    return out;
  }
  const l = lib!;
  const key = l.EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, null, scalar, BigInt(X25519_BYTES));
  if (key === null) throw new Error("libcrypto: cannot load an X25519 private key");
  try {
    const out = new Uint8Array(X25519_BYTES);
    const len = new BigUint64Array([BigInt(X25519_BYTES)]);
    if (l.EVP_PKEY_get_raw_public_key(key, out, new Uint8Array(len.buffer)) !== 1) {
      throw new Error("libcrypto: cannot compute an X25519 public key");
    }
    return out;
  } finally {
    l.EVP_PKEY_free(key);
  }
}

function libcryptoDerive(l: Lib, scalar: Uint8Array, u: Uint8Array): Uint8Array {
  const n = BigInt(X25519_BYTES);
  const priv = l.EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, null, scalar, n);
  const peer = l.EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, null, u, n);
  const ctx = priv === null ? null : l.EVP_PKEY_CTX_new(priv, null);
  try {
    if (priv === null || peer === null || ctx === null) {
      throw new Error("libcrypto: cannot load X25519 keys");
    }
    const out = new Uint8Array(X25519_BYTES);
    const len = new BigUint64Array([n]);
    const ok = l.EVP_PKEY_derive_init(ctx) === 1 &&
      l.EVP_PKEY_derive_set_peer(ctx, peer) === 1 &&
      l.EVP_PKEY_derive(ctx, out, new Uint8Array(len.buffer)) === 1;
    // libcrypto refuses exactly the all-zero result (RFC 7748 §6.1's check), which is what a
    // low-order u gives; anything else failing would be a broken library, not a peer's doing.
    return ok ? out : new Uint8Array(X25519_BYTES);
  } finally {
    if (ctx !== null) l.EVP_PKEY_CTX_free(ctx);
    if (peer !== null) l.EVP_PKEY_free(peer);
    if (priv !== null) l.EVP_PKEY_free(priv);
  }
}
