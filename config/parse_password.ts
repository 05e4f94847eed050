/**
 * The `password:` section of weave.yaml: `{file: path}` or `{env: NAME}`, never the password
 * itself. The source is checked at load (see `password.ts`); its diagnostics sit at the
 * `file:`/`env:` value.
 *
 * @module
 */

import { isMap, isScalar, type Scalar } from "yaml";
import { isValidEnvName } from "./names.ts";
import { type ParseContext, resolveAgainstConfig, type TopLevel } from "./parse_context.ts";
import { checkPasswordSource } from "./password.ts";
import type { PasswordSource } from "./types.ts";
import type { YNode } from "./yaml_reader.ts";

const PASSWORD_KEYS = ["file", "env"] as const;
const EXAMPLE = `"password: {file: secret.txt}" or "password: {env: WEAVE_PASSWORD}"`;
const LITERAL_WHY = "weave.yaml is meant to be kept in Git, where everyone who can read the " +
  "repository would learn the password";
const LITERAL_HINT = `keep it in a file only root can read and write ` +
  `"password: {file: secret.txt}", or write "password: {env: WEAVE_PASSWORD}"`;

/** Null: no password (a warning). Undefined: invalid (reported). */
export function parsePassword(
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
  const m = ctx.r.map(e.value, "password", "under password", PASSWORD_KEYS, EXAMPLE);
  if (!m) return undefined;
  const file = m.get("file");
  const env = m.get("env");
  if (file && env) {
    const second = ctx.report.at(file.key).line <= ctx.report.at(env.key).line ? env : file;
    ctx.report.error(
      second.key,
      "password takes either file: or env:, not both",
      "keep the one the agent should use",
    );
    return undefined;
  }
  if (!file && !env) {
    if (m.unknownKeys.length > 0) return undefined;
    ctx.report.error(e.value, "password needs file: or env:", `e.g. ${EXAMPLE}`);
    return undefined;
  }
  const parsed = file ? fileSource(ctx, file.value) : envSource(ctx, env!.value);
  if (!parsed) return undefined;
  let failed = false;
  for (const p of checkPasswordSource(parsed.source, parsed.written, ctx.access)) {
    ctx.report.report(p.severity, parsed.at, p.message, p.hint);
    if (p.severity === "error") failed = true;
  }
  return failed ? undefined : parsed.source;
}

/** A password written into the file (scalar or `value:`) is refused; true when reported. */
function refusedLiteral(ctx: ParseContext, key: Scalar, node: YNode | null): boolean {
  if (isScalar(node)) {
    if (node.value === null || node.value === "") {
      ctx.report.error(
        node.value === null ? key : node,
        "password is empty",
        "give file: or env: under password:, or remove the password line to run " +
          "without encryption",
      );
    } else {
      // The value itself is never echoed: it is a secret, and diagnostics end up in logs.
      ctx.report.error(node, `password is written into the config; ${LITERAL_WHY}`, LITERAL_HINT);
    }
    return true;
  }
  if (isMap(node)) {
    const literal = node.items.find((p) => isScalar(p.key) && p.key.value === "value");
    if (literal) {
      ctx.report.error(
        literal.key as Scalar,
        `password: value: puts the password into the config; ${LITERAL_WHY}`,
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
