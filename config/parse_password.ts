/**
 * The `password:` section of weave.yaml: `{file: path}` or `{env: NAME}`, never the password
 * itself. The source is checked at load (see `password.ts`); its diagnostics sit at the
 * `file:`/`env:` value.
 *
 * @module
 */

import { isMap, isScalar, type Scalar } from "./yaml.ts";
import { isValidEnvName } from "./names.ts";
import { type ParseContext, resolveAgainstConfig, type TopLevel } from "./parse_context.ts";
import { checkPasswordSource } from "./password.ts";
import type { PasswordSource } from "./types.ts";
import type { YNode } from "./yaml_reader.ts";

const PASSWORD_KEYS = ["file", "env", "previous"] as const;
const PREVIOUS_KEYS = ["file", "env"] as const;
const EXAMPLE = `"password: {file: secret.txt}" or "password: {env: WEAVE_PASSWORD}"`;
const LITERAL_WHY = "weave.yaml is meant to be kept in Git, where everyone who can read the " +
  "repository would learn the password";
const LITERAL_HINT = `keep it in a file only root can read and write ` +
  `"password: {file: secret.txt}", or write "password: {env: WEAVE_PASSWORD}"`;

/** The password sources; for each, null: absent, undefined: invalid (reported). */
export interface ParsedPasswords {
  current: PasswordSource | null | undefined;
  previous: PasswordSource | null | undefined;
}

/** `password:`, and `password.previous:` during a rotation. */
export function parsePasswords(ctx: ParseContext, top: TopLevel, root: YNode): ParsedPasswords {
  const current = parsePassword(ctx, top, root);
  const e = top.get("password");
  const m = e && isMap(e.value)
    ? e.value.items.find((p) => isScalar(p.key) && p.key.value === "previous")
    : undefined;
  if (!m) return { current, previous: null };
  const node = ctx.r.resolve(m.value);
  if (refusedLiteral(ctx, m.key as Scalar, node, "password.previous")) {
    return { current, previous: undefined };
  }
  const previous = sourceOf(ctx, node, "password.previous", PREVIOUS_KEYS, "previous");
  if (previous && current && JSON.stringify(previous) === JSON.stringify(current)) {
    ctx.report.warning(
      node,
      "password.previous is the same source as the current password",
      "point previous: at the password being rotated out, or remove it",
    );
  }
  return { current, previous };
}

/** Null: no password (a warning). Undefined: invalid (reported). */
function parsePassword(
  ctx: ParseContext,
  top: TopLevel,
  root: YNode,
): PasswordSource | null | undefined {
  const e = top.get("password");
  if (!e) {
    ctx.report.warning(
      root,
      "no password: traffic between peers is not encrypted and peers are not authenticated",
      `add "password: {file: secret.txt}" (a file only root can read) to encrypt`,
    );
    return null;
  }
  if (refusedLiteral(ctx, e.key, e.value)) return undefined;
  return sourceOf(ctx, e.value, "password", PASSWORD_KEYS, "current");
}

/** A `{file: …}` / `{env: …}` map, checked at load. */
function sourceOf(
  ctx: ParseContext,
  node: YNode | null,
  label: "password" | "password.previous",
  keys: readonly string[],
  role: "current" | "previous",
): PasswordSource | undefined {
  const example = role === "current" ? EXAMPLE : `"previous: {file: secret.old}"`;
  const m = ctx.r.map(node, label, `under ${label}`, keys, example);
  if (!m) return undefined;
  const file = m.get("file");
  const env = m.get("env");
  if (file && env) {
    const second = (file.key.range?.[0] ?? 0) <= (env.key.range?.[0] ?? 0) ? env : file;
    ctx.report.error(
      second.key,
      `${label} takes either file: or env:, not both`,
      "keep the one the agent should use",
    );
    return undefined;
  }
  if (!file && !env) {
    if (m.unknownKeys.length > 0) return undefined;
    ctx.report.error(node, `${label} needs file: or env:`, `e.g. ${example}`);
    return undefined;
  }
  const parsed = file ? fileSource(ctx, file.value) : envSource(ctx, env!.value);
  if (!parsed) return undefined;
  // Fleet mode (CI): the secret is rightly absent; validateFleet lists this check as skipped.
  if (ctx.fleet) return parsed.source;
  let failed = false;
  for (const p of checkPasswordSource(parsed.source, parsed.written, ctx.access, role)) {
    ctx.report.report(p.severity, parsed.at, p.message, p.hint);
    if (p.severity === "error") failed = true;
  }
  return failed ? undefined : parsed.source;
}

/** A password written into the file (scalar or `value:`) is refused; true when reported. */
function refusedLiteral(
  ctx: ParseContext,
  key: Scalar,
  node: YNode | null,
  label = "password",
): boolean {
  if (isScalar(node)) {
    if (node.value === null || node.value === "") {
      ctx.report.error(
        node.value === null ? key : node,
        `${label} is empty`,
        "give file: or env: under password:, or remove the password line to run " +
          "without encryption",
      );
    } else {
      // The value itself is never echoed: it is a secret, and diagnostics end up in logs.
      ctx.report.error(node, `${label} is written into the config; ${LITERAL_WHY}`, LITERAL_HINT);
    }
    return true;
  }
  if (isMap(node)) {
    const literal = node.items.find((p) => isScalar(p.key) && p.key.value === "value");
    if (literal) {
      ctx.report.error(
        literal.key as Scalar,
        `${label}: value: puts the password into the config; ${LITERAL_WHY}`,
        LITERAL_HINT,
      );
      return true;
    }
  }
  return false;
}

interface ParsedSource {
  source: PasswordSource;
  /** As written in the file, for messages. */
  written: string;
  at: YNode | null;
}

function fileSource(ctx: ParseContext, node: YNode | null): ParsedSource | undefined {
  const f = ctx.r.string(node, "password file", "file: secret.txt");
  if (f === undefined) return undefined;
  return { source: { kind: "file", path: resolveAgainstConfig(ctx, f) }, written: f, at: node };
}

function envSource(ctx: ParseContext, node: YNode | null): ParsedSource | undefined {
  const name = ctx.r.string(node, "password env", "env: WEAVE_PASSWORD");
  if (name === undefined) return undefined;
  if (!isValidEnvName(name)) {
    ctx.report.error(
      node,
      `"${name}" is not a valid environment variable name`,
      "use letters, digits and _, not starting with a digit, e.g. WEAVE_PASSWORD",
    );
    return undefined;
  }
  return { source: { kind: "env", name }, written: name, at: node };
}
