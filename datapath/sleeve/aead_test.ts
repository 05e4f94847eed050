/**
 * The sleeve's AEAD on every backend this box has, against published GCM vectors, libsodium
 * through python3-nacl for ChaCha20-Poly1305 and pyca/cryptography (OpenSSL) for AES-256-GCM;
 * and each backend opens what every other one sealed.
 */

import { strictEqual } from "node:assert";
import {
  AEAD_BACKENDS,
  type AeadBackend,
  aeadBackendHas,
  type AeadName,
  createAead,
  loadNobleAes,
} from "./aead.ts";

// @noble's AES-GCM loads on demand (aead.ts); whoever picks the noble backend loads it first.
await loadNobleAes();

const td = new TextDecoder();
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((h) => parseInt(h, 16)));
/** The backends that run both AEADs here (CI has all three: libsodium23 comes with python3-nacl). */
const backends: AeadBackend[] = AEAD_BACKENDS.filter((b) =>
  aeadBackendHas(b, "aes-256-gcm") && aeadBackendHas(b, "chacha20-poly1305")
);

async function python(code: string, ...args: string[]): Promise<string> {
  const o = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", code, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!o.success) throw new Error(td.decode(o.stderr));
  return td.decode(o.stdout).trim();
}

function seal(
  name: AeadName,
  backend: AeadBackend,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  pt: Uint8Array,
) {
  const a = createAead(name, key, backend);
  const out = new Uint8Array(pt.length + 16);
  const n = a.seal(nonce, aad, pt, out);
  a.free();
  return out.subarray(0, n);
}

Deno.test("AES-256-GCM: the GCM specification's test cases 13 and 14", () => {
  for (const b of backends) {
    const k = new Uint8Array(32), iv = new Uint8Array(12);
    strictEqual(
      hex(seal("aes-256-gcm", b, k, iv, new Uint8Array(), new Uint8Array())),
      "530f8afbc74536b9a963b4f1c4cb738b",
      b,
    );
    strictEqual(
      hex(seal("aes-256-gcm", b, k, iv, new Uint8Array(), new Uint8Array(16))),
      "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
      b,
    );
  }
});

Deno.test("AES-256-GCM with AAD agrees with pyca/cryptography; ChaCha20-Poly1305 with libsodium", async () => {
  const key = new Uint8Array(32).map((_, i) => 255 - i);
  const nonce = unhex("000000010000000000000007");
  const aad = unhex("010000650000002a0000000000000007");
  const pt = new TextEncoder().encode(
    "an ethernet frame, more or less, of some length: 0123456789",
  );
  const gcm = await python(
    `import sys; from cryptography.hazmat.primitives.ciphers.aead import AESGCM
k, n, a, m = (bytes.fromhex(x) for x in sys.argv[1:5]); print(AESGCM(k).encrypt(n, m, a).hex())`,
    hex(key),
    hex(nonce),
    hex(aad),
    hex(pt),
  );
  const cc = await python(
    `import sys, nacl.bindings as b
k, n, a, m = (bytes.fromhex(x) for x in sys.argv[1:5]); print(b.crypto_aead_chacha20poly1305_ietf_encrypt(m, a, n, k).hex())`,
    hex(key),
    hex(nonce),
    hex(aad),
    hex(pt),
  );
  for (const b of backends) {
    strictEqual(hex(seal("aes-256-gcm", b, key, nonce, aad, pt)), gcm, b);
    strictEqual(hex(seal("chacha20-poly1305", b, key, nonce, aad, pt)), cc, b);
  }
});

Deno.test("open: round trip, and a flipped bit anywhere (ciphertext, tag, AAD, nonce) is refused", () => {
  for (const b of backends) {
    for (const name of ["aes-256-gcm", "chacha20-poly1305"] as const) {
      const key = crypto.getRandomValues(new Uint8Array(32));
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const aad = crypto.getRandomValues(new Uint8Array(16));
      const pt = crypto.getRandomValues(new Uint8Array(1400));
      const a = createAead(name, key, b);
      const sealed = new Uint8Array(pt.length + 16);
      a.seal(nonce, aad, pt, sealed);
      const out = new Uint8Array(2000);
      strictEqual(a.open(nonce, aad, sealed, out), pt.length);
      strictEqual(hex(out.subarray(0, pt.length)), hex(pt));
      for (const which of ["ct", "tag", "aad", "nonce"]) {
        const s2 = sealed.slice(), a2 = aad.slice(), n2 = nonce.slice();
        if (which === "ct") s2[100] ^= 1;
        if (which === "tag") s2[s2.length - 1] ^= 0x80;
        if (which === "aad") a2[0] ^= 1;
        if (which === "nonce") n2[11] ^= 1;
        strictEqual(a.open(n2, a2, s2, out), -1, `${b} ${name} ${which}`);
      }
      strictEqual(a.open(nonce, aad, sealed.subarray(0, 10), out), -1, "truncated");
      a.free();
    }
  }
});

Deno.test("explicit lengths: sealing and opening inside larger buffers gives the same bytes", () => {
  const key = new Uint8Array(32).map((_, i) => i * 3);
  const nonce = new Uint8Array(12).fill(9);
  const aad = new Uint8Array(16).fill(1);
  const pt = new Uint8Array(300).map((_, i) => i);
  for (const name of ["aes-256-gcm", "chacha20-poly1305"] as const) {
    for (const b of backends) {
      const a = createAead(name, key, b);
      const exact = new Uint8Array(316);
      strictEqual(a.seal(nonce, aad, pt, exact), 316);
      const big = new Uint8Array(1000).fill(0xee);
      const padded = new Uint8Array(1000).fill(0x77);
      padded.set(pt);
      strictEqual(a.seal(nonce, aad, padded, big, 300), 316, `${name} ${b}`);
      strictEqual(hex(big.subarray(0, 316)), hex(exact), `${name} ${b}: same ciphertext and tag`);
      strictEqual(big[316], 0xee, "nothing written past the tag");
      const back = new Uint8Array(1000);
      strictEqual(a.open(nonce, aad, big, back, 316), 300);
      strictEqual(hex(back.subarray(0, 300)), hex(pt));
      big[5] ^= 1;
      strictEqual(a.open(nonce, aad, big, back, 316), -1, "forged");
      strictEqual(a.open(nonce, aad, big, back, 10), -1, "shorter than a tag");
      a.free();
    }
  }
});

Deno.test("every backend opens what every other one sealed (boxes on different backends talk)", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const aad = crypto.getRandomValues(new Uint8Array(16));
  for (const name of ["aes-256-gcm", "chacha20-poly1305"] as const) {
    for (const len of [0, 1, 15, 16, 17, 98, 1408, 9000]) {
      const pt = crypto.getRandomValues(new Uint8Array(len));
      for (const from of backends) {
        const s = seal(name, from, key, nonce, aad, pt);
        for (const to of backends) {
          const a = createAead(name, key, to);
          const out = new Uint8Array(len + 1);
          strictEqual(a.open(nonce, aad, s, out), len, `${name} ${len} ${from} -> ${to}`);
          strictEqual(hex(out.subarray(0, len)), hex(pt), `${name} ${len} ${from} -> ${to}`);
          a.free();
        }
      }
    }
  }
});

Deno.test("@noble AES-GCM loads on demand: before loadNobleAes a fresh isolate refuses to create it", async () => {
  const url = new URL("./aead.ts", import.meta.url).href;
  const code = `import { createAead, loadNobleAes } from ${JSON.stringify(url)};
    const key = new Uint8Array(32);
    let refused = "";
    try { createAead("aes-256-gcm", key, "noble"); } catch (e) { refused = e.message; }
    createAead("chacha20-poly1305", key, "noble");
    await loadNobleAes();
    createAead("aes-256-gcm", key, "noble");
    console.log(refused);`;
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--node-modules-dir=manual", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  strictEqual(o.success, true, td.decode(o.stderr));
  strictEqual(
    td.decode(o.stdout).trim(),
    "@noble AES-GCM is not loaded: await loadNobleAes() before createAead",
  );
});
