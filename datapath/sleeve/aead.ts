/**
 * AEAD for the packet path, on backends with the same algorithms and the same bytes on the
 * wire (so boxes on different backends talk):
 * - the system's libcrypto (OpenSSL 3) through synchronous FFI with a context per key, set once,
 *   so each packet costs only the IV and the data passes (measured 25–50× faster here than
 *   pure-JS or per-call node:crypto); its stitched AES-GCM is the fastest per byte;
 * - the system's libsodium (aead_libsodium.ts): one FFI call per packet instead of five, the
 *   cheapest for small packets, and far cheaper cold (a ping after idle: 11 µs against 27);
 * - both, split by size (`libsodium+libcrypto`, the default where both load): small packets
 *   (pings, TCP ACKs, requests) on libsodium, full-size segments on libcrypto;
 * - @noble/ciphers in JavaScript where neither loads.
 *
 * @module
 */

import { chacha20poly1305 } from "@noble/ciphers/chacha.js";

import { TAG_BYTES } from "./wire.ts";
import { libsodium, LibsodiumAead, libsodiumHas } from "./aead_libsodium.ts";

export { libsodium, libsodiumHas };

/** The AEADs a sleeve session may use (the one home of this union: import it from here). */
export const AEAD_NAMES = ["aes-256-gcm", "chacha20-poly1305"] as const;
export type AeadName = typeof AEAD_NAMES[number];
/** The backends, best first. */
export const AEAD_BACKENDS = ["libsodium+libcrypto", "libsodium", "libcrypto", "noble"] as const;
export type AeadBackend = typeof AEAD_BACKENDS[number];
export { TAG_BYTES };

/**
 * Seals and opens with one key. Output/input layout: ciphertext ‖ 16-byte tag. The optional
 * lengths let the packet path pass whole buffers instead of a fresh subarray per packet.
 */
export interface Aead {
  /** Writes ciphertext+tag of `plain[0:len]` into `out` (room for len+16); returns bytes written. */
  seal(
    nonce: Uint8Array,
    aad: Uint8Array,
    plain: Uint8Array,
    out: Uint8Array,
    len?: number,
  ): number;
  /**
   * Writes the plaintext of `sealed[0:len]` into `out`; returns its length, or -1 if it is
   * forged.
   */
  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    out: Uint8Array,
    len?: number,
  ): number;
  free(): void;
}

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_chacha20_poly1305: { parameters: [], result: "pointer" },
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_DecryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

const CTRL_AEAD_GET_TAG = 0x10;
const CTRL_AEAD_SET_TAG = 0x11;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let lib: Lib | null | undefined;

/**
 * The system's libcrypto with `symbols` bound, or null where it cannot be loaded (no library, no
 * FFI permission). The one place that knows its file names (the control plane binds its own).
 */
export function openLibcrypto<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | null {
  for (const name of ["libcrypto.so.3", "libcrypto.so"]) {
    try {
      return Deno.dlopen(name, symbols).symbols;
    } catch { /* try the next name */ }
  }
  return null;
}

/** libcrypto's symbols, or null when it cannot be loaded here. */
export function libcrypto(): Lib | null {
  if (lib === undefined) lib = openLibcrypto(SYMBOLS);
  return lib;
}

/** Whether this CPU has AES instructions (then AES-GCM is the fast choice). */
export function cpuHasAes(): boolean {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return /^(flags|Features)\s*:.*\baes\b/m.test(info);
  } catch {
    return false;
  }
}

/** The sleeve's AEAD on this box: AES-256-GCM where the CPU has AES instructions. */
export function preferredAead(): AeadName {
  return cpuHasAes() ? "aes-256-gcm" : "chacha20-poly1305";
}

class LibcryptoAead implements Aead {
  #enc: Deno.PointerValue;
  #dec: Deno.PointerValue;
  #len = new Int32Array(1);
  #lenBuf = new Uint8Array(this.#len.buffer);
  #tag = new Uint8Array(TAG_BYTES);
  #scratch = new Uint8Array(64);

  constructor(private readonly l: Lib, name: AeadName, key: Uint8Array) {
    const cipher = name === "aes-256-gcm" ? l.EVP_aes_256_gcm() : l.EVP_chacha20_poly1305();
    this.#enc = l.EVP_CIPHER_CTX_new();
    this.#dec = l.EVP_CIPHER_CTX_new();
    const iv = new Uint8Array(12);
    if (
      l.EVP_EncryptInit_ex(this.#enc, cipher, null, key, iv) !== 1 ||
      l.EVP_DecryptInit_ex(this.#dec, cipher, null, key, iv) !== 1
    ) throw new Error(`libcrypto: cannot initialise ${name}`);
  }

  // GCM and ChaCha20-Poly1305 are stream modes: Update writes exactly its input length and
  // Final writes nothing, so Final gets the scratch buffer instead of a view past the output.
  seal(
    nonce: Uint8Array,
    aad: Uint8Array,
    plain: Uint8Array,
    out: Uint8Array,
    len = plain.length,
  ): number {
    const l = this.l;
    l.EVP_EncryptInit_ex(this.#enc, null, null, null, nonce);
    l.EVP_EncryptUpdate(this.#enc, null, this.#lenBuf, aad, aad.length);
    l.EVP_EncryptUpdate(this.#enc, out, this.#lenBuf, plain, len);
    const n = this.#len[0];
    l.EVP_EncryptFinal_ex(this.#enc, this.#scratch, this.#lenBuf);
    l.EVP_CIPHER_CTX_ctrl(this.#enc, CTRL_AEAD_GET_TAG, TAG_BYTES, this.#tag);
    out.set(this.#tag, n);
    return n + TAG_BYTES;
  }

  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    out: Uint8Array,
    len = sealed.length,
  ): number {
    if (len < TAG_BYTES) return -1;
    const l = this.l;
    const ctLen = len - TAG_BYTES;
    const tag = this.#tag;
    for (let i = 0; i < TAG_BYTES; i++) tag[i] = sealed[ctLen + i];
    l.EVP_DecryptInit_ex(this.#dec, null, null, null, nonce);
    l.EVP_DecryptUpdate(this.#dec, null, this.#lenBuf, aad, aad.length);
    l.EVP_DecryptUpdate(this.#dec, out, this.#lenBuf, sealed, ctLen);
    const n = this.#len[0];
    l.EVP_CIPHER_CTX_ctrl(this.#dec, CTRL_AEAD_SET_TAG, TAG_BYTES, tag);
    if (l.EVP_DecryptFinal_ex(this.#dec, this.#scratch, this.#lenBuf) !== 1) return -1;
    return n;
  }

  free(): void {
    this.l.EVP_CIPHER_CTX_free(this.#enc);
    this.l.EVP_CIPHER_CTX_free(this.#dec);
  }
}

type NobleGcm = typeof import("@noble/ciphers/aes.js").gcm;
let nobleGcm: NobleGcm | null = null;

/**
 * Loads @noble's AES-GCM, which {@link createAead} needs for `aes-256-gcm` on the `noble`
 * backend (call it first, e.g. where that backend is chosen). Loaded on demand because its
 * module builds its AES tables when imported (≈ 8 ms of CPU here, in every isolate that imports
 * this file), which boxes with libsodium or libcrypto never use. Idempotent.
 */
export async function loadNobleAes(): Promise<void> {
  nobleGcm ??= (await import("@noble/ciphers/aes.js")).gcm;
}

class NobleAead implements Aead {
  readonly #gcm: NobleGcm | null;
  constructor(name: AeadName, private readonly key: Uint8Array) {
    this.#gcm = name === "aes-256-gcm" ? nobleGcm : null;
    if (name === "aes-256-gcm" && !this.#gcm) {
      throw new Error("@noble AES-GCM is not loaded: await loadNobleAes() before createAead");
    }
  }
  #cipher(nonce: Uint8Array, aad: Uint8Array) {
    return this.#gcm ? this.#gcm(this.key, nonce, aad) : chacha20poly1305(this.key, nonce, aad);
  }
  seal(
    nonce: Uint8Array,
    aad: Uint8Array,
    plain: Uint8Array,
    out: Uint8Array,
    len = plain.length,
  ): number {
    const s = this.#cipher(nonce, aad).encrypt(plain.subarray(0, len));
    out.set(s);
    return s.length;
  }
  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    out: Uint8Array,
    len = sealed.length,
  ): number {
    try {
      const p = this.#cipher(nonce, aad).decrypt(sealed.subarray(0, len));
      out.set(p);
      return p.length;
    } catch {
      return -1;
    }
  }
  free(): void {}
}

/**
 * Where `libsodium+libcrypto` moves from libsodium to libcrypto: plaintexts shorter than this go
 * to libsodium. Measured here (seal and open alike): libsodium costs ≈ 0.1 µs less per call
 * (one FFI call instead of five), libcrypto less per byte (its AES-GCM is stitched with GHASH on
 * AVX-512; ChaCha20 likewise), crossing near 1 KB for AES-256-GCM and 600 bytes for
 * ChaCha20-Poly1305. A full-size 1408-byte segment: 0.80 µs on libcrypto, 1.00 on libsodium.
 */
export const SPLIT_AT_BYTES: Readonly<Record<AeadName, number>> = {
  "aes-256-gcm": 1024,
  "chacha20-poly1305": 640,
};

/** Two backends of one key (same bytes on the wire), chosen per packet by its size. */
class SizeSplitAead implements Aead {
  constructor(
    private readonly small: Aead,
    private readonly large: Aead,
    private readonly limit: number,
  ) {}
  seal(
    nonce: Uint8Array,
    aad: Uint8Array,
    plain: Uint8Array,
    out: Uint8Array,
    len = plain.length,
  ): number {
    return (len < this.limit ? this.small : this.large).seal(nonce, aad, plain, out, len);
  }
  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    out: Uint8Array,
    len = sealed.length,
  ): number {
    return (len - TAG_BYTES < this.limit ? this.small : this.large).open(
      nonce,
      aad,
      sealed,
      out,
      len,
    );
  }
  free(): void {
    this.small.free();
    this.large.free();
  }
}

/**
 * The best backend that has `name` here: libsodium, then libcrypto, then @noble (which
 * always has it).
 */
export function bestAeadBackend(name: AeadName): AeadBackend {
  const lc = libcrypto() !== null;
  if (libsodiumHas(name)) return lc ? "libsodium+libcrypto" : "libsodium";
  return lc ? "libcrypto" : "noble";
}

/** Whether `backend` can run `name` on this box. */
export function aeadBackendHas(backend: AeadBackend, name: AeadName): boolean {
  if (backend === "libsodium+libcrypto") return libsodiumHas(name) && libcrypto() !== null;
  if (backend === "libsodium") return libsodiumHas(name);
  if (backend === "libcrypto") return libcrypto() !== null;
  return true;
}

/** An AEAD for `key` on the chosen backend. */
export function createAead(name: AeadName, key: Uint8Array, backend: AeadBackend): Aead {
  if (backend === "libsodium+libcrypto") {
    return new SizeSplitAead(
      createAead(name, key, "libsodium"),
      createAead(name, key, "libcrypto"),
      SPLIT_AT_BYTES[name],
    );
  }
  if (backend === "libsodium") {
    const l = libsodium();
    if (!l) throw new Error("libsodium.so.23 is not available");
    return new LibsodiumAead(l, name, key);
  }
  if (backend === "libcrypto") {
    const l = libcrypto();
    if (!l) throw new Error("libcrypto.so.3 is not available");
    return new LibcryptoAead(l, name, key);
  }
  return new NobleAead(name, key);
}
