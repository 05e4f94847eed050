/**
 * Known-answer tests of the control plane's derivations, each checked against the openssl CLI
 * (an independent implementation) or libsodium through Debian's python3-nacl.
 */

import { deepStrictEqual, strictEqual, throws } from "node:assert";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import {
  confirmationMac,
  deriveControlKeys,
  derivePurposeKey,
  deriveSessionKey,
  deriveSharedSecret,
  sessionKeyFromShared,
} from "./session_keys.ts";
import { hex, opensslHkdf, run, unhex } from "../../tests/lab/openssl.ts";

const td = new TextDecoder();

const PKCS8_X25519 = unhex("302e020100300506032b656e04220420");
const SPKI_X25519 = unhex("302a300506032b656e032100");

Deno.test("X25519 shared secret and session key agree with openssl", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const priv = crypto.getRandomValues(new Uint8Array(32));
    // openssl generates the peer; we read its raw public key back out of the DER.
    await run("openssl", ["genpkey", "-algorithm", "X25519", "-out", `${dir}/b.pem`]);
    const bPubDer = await run("openssl", [
      "pkey",
      "-in",
      `${dir}/b.pem`,
      "-pubout",
      "-outform",
      "DER",
    ]);
    const bPub = bPubDer.slice(-32);
    await Deno.writeFile(`${dir}/a.der`, new Uint8Array([...PKCS8_X25519, ...priv]));
    await Deno.writeFile(`${dir}/bpub.der`, new Uint8Array([...SPKI_X25519, ...bPub]));
    const expected = await run("openssl", [
      "pkeyutl",
      "-derive",
      "-keyform",
      "DER",
      "-inkey",
      `${dir}/a.der`,
      "-peerform",
      "DER",
      "-peerkey",
      `${dir}/bpub.der`,
    ]);
    const shared = deriveSharedSecret(priv, bPub);
    strictEqual(hex(shared), hex(expected));

    const password = new TextEncoder().encode("fleet password");
    const digest = td.decode(
      await run(
        "openssl",
        ["dgst", "-sha256", "-hex", "-r"],
        new Uint8Array([...expected, ...password]),
      ),
    ).split(" ")[0];
    strictEqual(hex(deriveSessionKey(priv, bPub, password)), digest);
    // Without a password: SHA-256 of the shared secret alone.
    const plain =
      td.decode(await run("openssl", ["dgst", "-sha256", "-hex", "-r"], expected)).split(" ")[0];
    strictEqual(hex(sessionKeyFromShared(shared, null)), plain);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("X25519 refuses low-order public keys (all-zero shared secret)", () => {
  const priv = crypto.getRandomValues(new Uint8Array(32));
  throws(() => deriveSharedSecret(priv, new Uint8Array(32)));
  throws(() => deriveSharedSecret(priv, new Uint8Array(31)), /32 bytes/);
});

Deno.test("HKDF purpose keys and control keys agree with openssl kdf", async () => {
  const key = unhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  const dn = new Uint8Array(32).fill(0xd1), ln = new Uint8Array(32).fill(0x1e);
  const salt = new Uint8Array([...dn, ...ln]);
  for (
    const [purpose, dir] of [["control", "dialer->listener"], [
      "confirm",
      "listener->dialer",
    ]] as const
  ) {
    deepStrictEqual(
      hex(derivePurposeKey(key, dn, ln, purpose, dir)),
      hex(await opensslHkdf(key, salt, `weave-agent v1 ${purpose} ${dir}`, 32)),
    );
  }
  const c = deriveControlKeys(key, dn, ln);
  strictEqual(
    hex(c.dialerToListener),
    hex(await opensslHkdf(key, salt, "weave-agent v1 control dialer->listener", 32)),
  );
  strictEqual(
    hex(c.listenerToDialer),
    hex(await opensslHkdf(key, salt, "weave-agent v1 control listener->dialer", 32)),
  );
  strictEqual(hex(c.dialerToListener) === hex(c.listenerToDialer), false);
});

Deno.test("key confirmation MAC is HMAC-SHA256 as openssl computes it", async () => {
  const key = new Uint8Array(32).fill(3),
    dn = new Uint8Array(32).fill(4),
    ln = new Uint8Array(32).fill(5);
  const transcript = new Uint8Array(32).fill(6);
  const macKey = await opensslHkdf(
    key,
    new Uint8Array([...dn, ...ln]),
    "weave-agent v1 confirm dialer->listener",
    32,
  );
  const expected = td.decode(
    await run("openssl", [
      "dgst",
      "-sha256",
      "-mac",
      "HMAC",
      "-macopt",
      `hexkey:${hex(macKey)}`,
      "-hex",
      "-r",
    ], transcript),
  ).split(" ")[0];
  strictEqual(hex(confirmationMac(key, dn, ln, "dialer->listener", transcript)), expected);
});

Deno.test("control messages: ChaCha20-Poly1305 with nonce = polarity ‖ seq, as libsodium seals it", async () => {
  const key = new Uint8Array(32).map((_, i) => i);
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(0, 1);
  new DataView(nonce.buffer).setBigUint64(4, 42n);
  const msg = new TextEncoder().encode('{"type":"heartbeat","t":1}');
  const ours = chacha20poly1305(key, nonce).encrypt(msg);
  const py = `import sys, nacl.bindings as b
k, n, m = (bytes.fromhex(x) for x in sys.argv[1:4])
print(b.crypto_aead_chacha20poly1305_ietf_encrypt(m, None, n, k).hex())`;
  const theirs = td.decode(
    await run("/usr/bin/python3", ["-c", py, hex(key), hex(nonce), hex(msg)]),
  ).trim();
  strictEqual(hex(ours), theirs);
});
