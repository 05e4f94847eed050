/**
 * `weave-agent genpass`: a fleet password from the system's CSPRNG, 256 bits as 43 base64url
 * characters (no padding, nothing a shell or YAML would trip over), written to a new file
 * with mode 0600 or printed. It never overwrites: an existing file may be the fleet's current
 * password, and losing it splits the fleet.
 *
 * @module
 */

import type { CommonFlags } from "./args.ts";

/** Random bytes per password: 256 bits, twice the 128 the design asks for at least. */
export const GENPASS_BYTES = 32;

/** A new random password (base64url of `GENPASS_BYTES` random bytes). */
export function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(GENPASS_BYTES));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * Creates `path` with `text`, mode 0600 whatever the umask; throws if anything already exists
 * there (a file, a directory, or a symlink, dangling or not: O_CREAT|O_EXCL never follows one).
 */
export async function writeNewSecretFile(path: string, text: string): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new Error(
        `${path} already exists; not overwriting it (remove it first if you mean to)`,
      );
    }
    throw new Error(`cannot create ${path}: ${e instanceof Error ? e.message : e}`);
  }
  try {
    // `mode` is only ever narrowed by the umask (never wider than 0600): make it exact.
    await Deno.chmod(path, 0o600);
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.syncData();
  } finally {
    file.close();
  }
}

/** `weave-agent genpass [--out FILE]`: exit 0, or 1 with the reason on stderr. */
export async function genpassCommand(flags: Pick<CommonFlags, "out">): Promise<number> {
  const out = flags.out;
  const password = generatePassword();
  if (out === undefined) {
    console.log(password);
    return 0;
  }
  try {
    await writeNewSecretFile(out, password + "\n");
  } catch (e) {
    console.error(`weave-agent genpass: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  console.error(
    `weave-agent genpass: wrote a ${GENPASS_BYTES * 8}-bit password to ${out} (mode 0600); ` +
      `copy it to every box, e.g. as password: { file: ${out} }`,
  );
  return 0;
}
