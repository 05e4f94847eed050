/**
 * Check items of the `password` group: the source is set, readable and private, and the
 * password (exactly the bytes the agent uses) is hard to guess. The password never appears in
 * an item.
 *
 * @module
 */

import {
  createPasswordFileCommand,
  formatMode,
  modeIsShared,
  type PasswordReading,
} from "../../config/mod.ts";
import type { Config } from "../../config/types.ts";
import { type CheckItem, item } from "./item.ts";
import { estimatePasswordStrength, WEAK_PASSWORD_BITS } from "./password_strength.ts";

/** What the check could read about the password source. */
export interface PasswordObservation {
  /** The password bytes as the agent would use them (`readPasswordSource`), or why not. */
  reading: PasswordReading;
  /** The system's reason when a file could not be read. */
  error?: string;
  /** Permission bits of the file, when it is one. */
  mode: number | null;
}

const PROBLEM_TEXT: Record<"unreadable" | "unset" | "empty", string> = {
  unreadable: "cannot be read",
  unset: "is not set",
  empty: "is empty",
};

/** `password.source` and `password.strength`. The password itself never appears in them. */
export function passwordItems(config: Config, obs: PasswordObservation): CheckItem[] {
  const src = config.password;
  if (src === null) {
    return [item(
      "password.source",
      "password",
      "warning",
      "no password: overlay traffic crosses the underlay unencrypted and unauthenticated",
      `add "password: { file: /etc/weave/password }" to the config and create it on every box: ` +
        createPasswordFileCommand("/etc/weave/password"),
    )];
  }
  const where = src.kind === "file" ? `file ${src.path}` : `environment variable ${src.name}`;
  const reading = obs.reading;
  if (!reading.ok) {
    const detail = reading.problem === "unreadable" && obs.error ? `: ${obs.error}` : "";
    return [item(
      "password.source",
      "password",
      "failure",
      `password ${where} ${PROBLEM_TEXT[reading.problem]}${detail}`,
      src.kind === "file"
        ? `create it: ${createPasswordFileCommand(src.path)}`
        : `set ${src.name} for the agent (e.g. a root-only systemd EnvironmentFile=)`,
    )];
  }
  const out: CheckItem[] = [];
  if (src.kind === "file" && obs.mode !== null && modeIsShared(obs.mode)) {
    const octal = formatMode(obs.mode);
    out.push(item(
      "password.source",
      "password",
      "warning",
      `password file ${src.path} has mode ${octal}: group or others can read it`,
      `chmod 600 ${src.path}`,
    ));
  } else {
    out.push(item("password.source", "password", "ok", `password from ${where}`));
  }
  // Judged on exactly the agent's bytes (as text: the estimate counts characters).
  const s = estimatePasswordStrength(new TextDecoder().decode(reading.bytes));
  if (s.bits < WEAK_PASSWORD_BITS) {
    out.push(item(
      "password.strength",
      "password",
      "warning",
      `about ${s.bits} bits (${s.weaknesses.join("; ") || "too short"}); an active attacker ` +
        "who intercepts one handshake can guess the password offline",
      `use a random one on every box: ${
        src.kind === "file"
          ? createPasswordFileCommand(src.path)
          : "head -c 32 /dev/urandom | base64"
      }`,
    ));
  } else {
    out.push(item("password.strength", "password", "ok", `about ${s.bits} bits`));
  }
  return out;
}
