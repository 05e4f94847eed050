/**
 * The shared password: where it may come from, the checks made when the config is loaded, and
 * reading its bytes when the agent needs them. The password itself never enters a Config,
 * a diagnostic or a log line; only its source does.
 *
 * One rule decides which bytes are the password: {@link readPasswordSource} (a file's content
 * minus one trailing newline, or the environment variable's UTF-8 bytes). The load-time check,
 * `readPassword` (the agent) and `weave-agent check` all go through it, so what is judged is
 * exactly what is used.
 *
 * @module
 */

import type { Config, PasswordSource } from "./types.ts";

/** File and environment access, replaceable in tests. */
export interface PasswordAccess {
  /** File content, or null when it cannot be read. */
  readFile: (path: string) => Uint8Array | null;
  /** Permission bits (`stat.mode`), or null when unknown. */
  statMode: (path: string) => number | null;
  env: Record<string, string | undefined>;
}

/** The default: Deno's synchronous file APIs and the process environment (or `env`). */
export function systemPasswordAccess(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): PasswordAccess {
  return {
    readFile: (p) => {
      try {
        return Deno.readFileSync(p);
      } catch {
        return null;
      }
    },
    statMode: (p) => {
      try {
        return Deno.statSync(p).mode;
      } catch {
        return null;
      }
    },
    env,
  };
}

/** Drops one trailing newline (`\n` or `\r\n`), which editors and `echo` add. */
export function stripOneNewline(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) {
    end--;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
  }
  return bytes.subarray(0, end);
}

/** The password bytes of a source, or why there are none. */
export type PasswordReading =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; problem: "unreadable" | "unset" | "empty" };

/** The one reading of a password source: what the agent uses and what is checked. */
export function readPasswordSource(
  source: PasswordSource,
  access: Pick<PasswordAccess, "readFile" | "env">,
): PasswordReading {
  if (source.kind === "env") {
    const value = access.env[source.name];
    if (value === undefined) return { ok: false, problem: "unset" };
    if (value === "") return { ok: false, problem: "empty" };
    return { ok: true, bytes: new TextEncoder().encode(value) };
  }
  const content = access.readFile(source.path);
  if (content === null) return { ok: false, problem: "unreadable" };
  const bytes = stripOneNewline(content);
  return bytes.length === 0 ? { ok: false, problem: "empty" } : { ok: true, bytes };
}

/** A problem with the password source found at load time. */
export interface PasswordProblem {
  severity: "error" | "warning";
  message: string;
  hint: string;
}

/** Shell command creating a good password file; shown in hints. */
export function createPasswordFileCommand(path: string): string {
  return `(umask 077; head -c 32 /dev/urandom | base64 > ${path})`;
}

/** Whether a file mode lets group or others access the file. */
export function modeIsShared(mode: number): boolean {
  return (mode & 0o077) !== 0;
}

/** `0644` for messages. */
export function formatMode(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}

/**
 * Checks a password source as written (`written` is the `file:` or `env:` value as in the file,
 * for messages). Files must exist, be readable and non-empty, and should be private to their
 * owner; environment variables must be set and non-empty.
 */
export function checkPasswordSource(
  source: PasswordSource,
  written: string,
  access: PasswordAccess,
  role: "current" | "previous" = "current",
): PasswordProblem[] {
  const reading = readPasswordSource(source, access);
  const key = role === "current" ? "password" : "password.previous";
  const fileWord = role === "current" ? "password file" : "previous password file";
  if (source.kind === "env") {
    if (reading.ok) return [];
    return [
      reading.problem === "unset"
        ? {
          severity: "error",
          message: `environment variable ${source.name} (${key}: env:) is not set`,
          hint: `start the agent with ${source.name} set, e.g. from a systemd EnvironmentFile= ` +
            `only root can read`,
        }
        : {
          severity: "error",
          message: `environment variable ${source.name} (${key}: env:) is empty`,
          hint: role === "current"
            ? `set ${source.name} to the fleet's shared password`
            : `set ${source.name} to the password being rotated out, or remove previous:`,
        },
    ];
  }
  if (!reading.ok) {
    return [
      reading.problem === "unreadable"
        ? {
          severity: "error",
          message: `${fileWord} "${written}" cannot be read (looked for ${source.path})`,
          hint: `create it: ${createPasswordFileCommand(source.path)}`,
        }
        : {
          severity: "error",
          message: `${fileWord} "${written}" is empty (${source.path})`,
          hint: `put the fleet's shared password in it: ${createPasswordFileCommand(source.path)}`,
        },
    ];
  }
  const mode = access.statMode(source.path);
  if (mode !== null && modeIsShared(mode)) {
    return [{
      severity: "warning",
      message: `${fileWord} "${written}" has mode ${formatMode(mode)}: group or others can ` +
        `access it`,
      hint: `chmod 600 ${source.path}`,
    }];
  }
  return [];
}

/**
 * The password bytes for a loaded config, or null when it sets no password. Reads the file
 * again (one trailing newline stripped) or the environment variable, and throws an Error naming
 * the source if it has vanished or emptied since the config was loaded.
 */
export function readPassword(
  config: Config,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Uint8Array | null {
  return config.password ? readSourceOrThrow(config.password, config.path, env, "password") : null;
}

/** The current password and, during a rotation, the previous one (`password.previous`). */
export interface Passwords {
  current: Uint8Array;
  /** Null when the config names no previous password. */
  previous: Uint8Array | null;
}

/**
 * Both passwords' bytes for a loaded config (null: no password), read now, with the errors of
 * {@link readPassword}. Reload compares these bytes ({@link samePasswords}), not the sources:
 * a password file whose content changed is a password change.
 */
export function readPasswords(
  config: Config,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Passwords | null {
  if (!config.password) return null;
  const current = readSourceOrThrow(config.password, config.path, env, "password");
  const previous = config.previousPassword
    ? readSourceOrThrow(config.previousPassword, config.path, env, "password.previous")
    : null;
  return { current, previous };
}

/** True when both hold the same bytes (in constant time for equal lengths). */
export function samePasswords(a: Passwords | null, b: Passwords | null): boolean {
  if (a === null || b === null) return a === b;
  return sameBytes(a.current, b.current) &&
    (a.previous === null || b.previous === null
      ? a.previous === b.previous
      : sameBytes(a.previous, b.previous));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function readSourceOrThrow(
  source: PasswordSource,
  configPath: string,
  env: Record<string, string | undefined>,
  key: "password" | "password.previous",
): Uint8Array {
  let readError = "";
  const access: Pick<PasswordAccess, "readFile" | "env"> = {
    env,
    readFile: (p) => {
      try {
        return Deno.readFileSync(p);
      } catch (e) {
        readError = e instanceof Error ? e.message : String(e);
        return null;
      }
    },
  };
  const reading = readPasswordSource(source, access);
  if (reading.ok) return reading.bytes.slice();
  const what = key === "password" ? "password file" : "previous password file";
  if (source.kind === "env") {
    throw new Error(
      `${key}: environment variable ${source.name} is ${
        reading.problem === "unset" ? "not set" : "empty"
      } (it was set when ${configPath} was loaded)`,
    );
  }
  if (reading.problem === "unreadable") {
    throw new Error(`${key}: cannot read ${what} ${source.path}: ${readError}`);
  }
  throw new Error(`${key}: ${what} ${source.path} is empty`);
}
