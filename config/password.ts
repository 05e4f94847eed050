/**
 * The shared password: where it may come from, the checks made when the config is loaded, and
 * reading its bytes when the agent needs them. The password itself never enters a Config,
 * a diagnostic or a log line; only its source does.
 *
 * @module
 */

import type { Config, PasswordSource } from "./types.ts";

/** File and environment access, replaceable in tests. */
export interface PasswordAccess {
  /** File content, or null when it cannot be read. */
  readTextFile: (path: string) => string | null;
  /** Permission bits (`stat.mode`), or null when unknown. */
  statMode: (path: string) => number | null;
  env: Record<string, string | undefined>;
}

/** The default: Deno's synchronous file APIs and the process environment. */
export function systemPasswordAccess(): PasswordAccess {
  return {
    readTextFile: (p) => {
      try {
        return Deno.readTextFileSync(p);
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
    env: Deno.env.toObject(),
  };
}

/** Drops one trailing newline (`\n` or `\r\n`), which editors and `echo` add. */
export function stripOneNewline(text: string): string {
  if (text.endsWith("\r\n")) return text.slice(0, -2);
  if (text.endsWith("\n")) return text.slice(0, -1);
  return text;
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

/**
 * Checks a password source as written (`written` is the `file:` or `env:` value as in the file,
 * for messages). Files must exist, be readable and non-empty, and should be private to their
 * owner; environment variables must be set and non-empty.
 */
export function checkPasswordSource(
  source: PasswordSource,
  written: string,
  access: PasswordAccess,
): PasswordProblem[] {
  if (source.kind === "env") {
    const value = access.env[source.name];
    if (value === undefined) {
      return [{
        severity: "error",
        message: `environment variable ${source.name} (password: env:) is not set`,
        hint: `start the agent with ${source.name} set, e.g. from a systemd EnvironmentFile= ` +
          `only root can read`,
      }];
    }
    if (value === "") {
      return [{
        severity: "error",
        message: `environment variable ${source.name} (password: env:) is empty`,
        hint: `set ${source.name} to the fleet's shared password`,
      }];
    }
    return [];
  }
  const text = access.readTextFile(source.path);
  if (text === null) {
    return [{
      severity: "error",
      message: `password file "${written}" cannot be read (looked for ${source.path})`,
      hint: `create it: ${createPasswordFileCommand(source.path)}`,
    }];
  }
  if (stripOneNewline(text) === "") {
    return [{
      severity: "error",
      message: `password file "${written}" is empty (${source.path})`,
      hint: `put the fleet's shared password in it: ${createPasswordFileCommand(source.path)}`,
    }];
  }
  const mode = access.statMode(source.path);
  if (mode !== null && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    return [{
      severity: "warning",
      message: `password file "${written}" has mode ${octal}: group or others can access it`,
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
  const source = config.password;
  if (!source) return null;
  if (source.kind === "env") {
    const value = env[source.name];
    if (value === undefined || value === "") {
      throw new Error(
        `password: environment variable ${source.name} is ${
          value === undefined ? "not set" : "empty"
        } (it was set when ${config.path} was loaded)`,
      );
    }
    return new TextEncoder().encode(value);
  }
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(source.path);
  } catch (e) {
    throw new Error(
      `password: cannot read password file ${source.path}: ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
  }
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) {
    end--;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
  }
  if (end === 0) throw new Error(`password: password file ${source.path} is empty`);
  return bytes.slice(0, end);
}
