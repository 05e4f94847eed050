/**
 * Node key files and `keygen`: mode 0600, refusal to overwrite, the printed public key as
 * libsodium (python3-nacl) derives it from the written private key, parse errors.
 */

import { deepStrictEqual, rejects, strictEqual, throws } from "node:assert";
import { run } from "../../tests/lab/openssl.ts";
import {
  encodeKey,
  keygenCommand,
  NodeKeyError,
  parseKeyFile,
  parsePublicKey,
  readNodeKey,
  writeNewKeyFile,
} from "./node_key.ts";

function capture() {
  const out: string[] = [], err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

Deno.test("keygen: writes a 0600 key file, prints the public key libsodium derives from it, never overwrites", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/node.key`;
    const c = capture();
    strictEqual(await keygenCommand({ out: path }, c.io), 0);
    strictEqual(c.err.length, 0, c.err.join("\n"));
    strictEqual((await Deno.stat(path)).mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(path);
    strictEqual(/^[A-Za-z0-9+/]{43}=\n$/.test(text), true, JSON.stringify(text));
    const py = `import sys, base64, nacl.public as p
k = p.PrivateKey(base64.b64decode(open(sys.argv[1]).read().strip()))
print(base64.b64encode(bytes(k.public_key)).decode())`;
    const sodium = new TextDecoder().decode(await run("/usr/bin/python3", ["-c", py, path])).trim();
    deepStrictEqual(c.out, [sodium]);
    const loaded = await readNodeKey(path);
    strictEqual(encodeKey(loaded.pair.publicKey), sodium);
    deepStrictEqual(loaded.warnings, []);

    // A second run refuses, and the file is untouched.
    const again = capture();
    strictEqual(await keygenCommand({ out: path }, again.io), 1);
    deepStrictEqual(again.err, [
      `weave-agent keygen: ${path} exists; refusing to overwrite a key file`,
    ]);
    strictEqual(await Deno.readTextFile(path), text);
    const none = capture();
    strictEqual(await keygenCommand({}, none.io), 2);
    // Readable by others: usable, with a warning that says how to fix it.
    await Deno.chmod(path, 0o644);
    deepStrictEqual((await readNodeKey(path)).warnings, [
      `${path} is readable by group or others (mode 644); chmod 600 it`,
    ]);
    await rejects(writeNewKeyFile(path, new Uint8Array(32)), NodeKeyError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node keys: malformed and low-order keys are refused with a reason", () => {
  const bad = (f: () => unknown, msg: string) =>
    throws(f, (e) => e instanceof NodeKeyError && e.message === msg);
  bad(() => parsePublicKey("abc"), "a node key must be 44 characters of base64 (32 bytes)");
  bad(() => parseKeyFile("!".repeat(44)), "a key file must be 44 characters of base64 (32 bytes)");
  bad(
    () => parsePublicKey(encodeKey(new Uint8Array(32))),
    "a node key must not be a low-order point",
  );
  const one = new Uint8Array(32);
  one[0] = 1;
  bad(() => parsePublicKey(encodeKey(one)), "a node key must not be a low-order point");
  const k = crypto.getRandomValues(new Uint8Array(32));
  deepStrictEqual(parsePublicKey(` ${encodeKey(k)}\n`), k);
});
