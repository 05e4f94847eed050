/**
 * The openssl CLI as an independent implementation for known-answer tests.
 *
 * @module
 */

const td = new TextDecoder();

export const hex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
export const unhex = (s: string) =>
  new Uint8Array((s.match(/../g) ?? []).map((h) => parseInt(h, 16)));

/** Runs a command with optional stdin; throws with its stderr on failure. */
export async function run(cmd: string, args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  const p = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = p.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const o = await p.output();
  if (!o.success) throw new Error(`${cmd} ${args.join(" ")}: ${td.decode(o.stderr)}`);
  return o.stdout;
}

/** HKDF-SHA256 by the openssl CLI. */
export async function opensslHkdf(key: Uint8Array, salt: Uint8Array, info: string, len: number) {
  const out = td.decode(
    await run("openssl", [
      "kdf",
      "-keylen",
      String(len),
      "-kdfopt",
      "digest:SHA256",
      "-kdfopt",
      `hexkey:${hex(key)}`,
      "-kdfopt",
      `hexsalt:${hex(salt)}`,
      "-kdfopt",
      `hexinfo:${hex(new TextEncoder().encode(info))}`,
      "HKDF",
    ]),
  );
  return unhex(out.trim().replaceAll(":", "").toLowerCase());
}
