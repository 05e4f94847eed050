import { deepStrictEqual, match, notStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { generatePassword, GENPASS_BYTES, writeNewSecretFile } from "./genpass.ts";
import { estimatePasswordStrength } from "../check/password_strength.ts";
import { loadConfig, readPassword } from "../../config/mod.ts";

Deno.test("genpass: 256 random bits as 43 base64url characters, a new one each time", () => {
  const a = generatePassword();
  match(a, /^[A-Za-z0-9_-]{43}$/);
  notStrictEqual(generatePassword(), a);
  const bytes = Uint8Array.from(
    atob(a.replaceAll("-", "+").replaceAll("_", "/") + "="),
    (c) => c.charCodeAt(0),
  );
  strictEqual(bytes.length, GENPASS_BYTES);
  const bits = estimatePasswordStrength(a).bits;
  ok(bits >= 128, `check rates a generated password at ${bits} bits`);
});

Deno.test("genpass: the file is 0600 whatever the umask, and the agent reads exactly it", async () => {
  const dir = await Deno.makeTempDir();
  const old = Deno.umask(0o000);
  try {
    const path = `${dir}/secret.txt`;
    const pw = generatePassword();
    await writeNewSecretFile(path, pw + "\n");
    strictEqual((await Deno.stat(path)).mode! & 0o777, 0o600);
    await Deno.writeTextFile(
      `${dir}/weave.yaml`,
      "version: 1\npassword:\n  file: secret.txt\npeers:\n  - name: a\n    address: 192.0.2.1\n" +
        "networks:\n  - name: n\n    subnet: 10.9.0.0/24\n",
    );
    const loaded = await loadConfig(`${dir}/weave.yaml`);
    deepStrictEqual(loaded.diagnostics, []);
    if (!loaded.ok) throw new Error("config did not load");
    strictEqual(new TextDecoder().decode(readPassword(loaded.config)!), pw);
  } finally {
    Deno.umask(old);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("genpass: never overwrites a file, a directory or a symlink", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/existing`, "the fleet's current password\n");
    await rejects(writeNewSecretFile(`${dir}/existing`, "x"), /already exists; not overwriting/);
    strictEqual(await Deno.readTextFile(`${dir}/existing`), "the fleet's current password\n");
    await Deno.mkdir(`${dir}/folder`);
    await rejects(writeNewSecretFile(`${dir}/folder`, "x"), /already exists/);
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/link`);
    await rejects(writeNewSecretFile(`${dir}/link`, "x"), /already exists/);
    await rejects(Deno.stat(`${dir}/elsewhere`), Deno.errors.NotFound, "followed the symlink");
    await rejects(writeNewSecretFile(`${dir}/no/such/dir`, "x"), /cannot create/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
