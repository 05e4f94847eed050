/**
 * `weave.yaml` version 1: from text to a validated {@link Config}, or to diagnostics that say
 * where (file:line:col from the YAML parser's node ranges), what, and how to fix it. All
 * problems are collected, not only the first.
 *
 * This file orchestrates; each section has its own file: `parse_scalars.ts` (version, ports,
 * datapath, MTU, metrics), `parse_password.ts`, `parse_peers.ts`, `parse_networks.ts` and
 * `parse_members.ts`.
 *
 * @module
 */

import { isScalar, LineCounter, parseDocument } from "./yaml.ts";
import { Reporter } from "./diagnostics.ts";
import { absolute, type ParseContext } from "./parse_context.ts";
import { checkNetworks, parseNetworks } from "./parse_networks.ts";
import { parsePasswords } from "./parse_password.ts";
import { parseInlinePolicies } from "./parse_policies.ts";
import { parsePolicyFiles } from "./parse_policy_files.ts";
import { parseRoutes, parseWorkloads } from "./parse_workloads.ts";
import { checkPeers, parsePeers } from "./parse_peers.ts";
import {
  DEFAULT_PORT,
  DEFAULT_UNDERLAY_MTU,
  MAX_UNDERLAY_MTU,
  MIN_UNDERLAY_MTU,
  optionalInt,
  parseDatapath,
  parseKeyFile,
  parseMetrics,
  parseNatKeepalive,
  parseRekeyTimes,
  parseVersion,
  parseVxlanPort,
} from "./parse_scalars.ts";
import { type PasswordAccess, systemPasswordAccess } from "./password.ts";
import type { Config, LoadResult, Policy } from "./types.ts";
import { YamlReader } from "./yaml_reader.ts";

export {
  DEFAULT_DATAPATH,
  DEFAULT_KEY_FILE,
  DEFAULT_NAT_KEEPALIVE_MS,
  DEFAULT_PORT,
  DEFAULT_REJECT_AFTER_MS,
  DEFAULT_REKEY_AFTER_MS,
  DEFAULT_UNDERLAY_MTU,
  MAX_UNDERLAY_MTU,
  MIN_IPV6_LINK_MTU,
  MIN_UNDERLAY_MTU,
  MIN_UNDERLAY_MTU_IPV6,
} from "./parse_scalars.ts";

const TOP_KEYS = [
  "version",
  "password",
  "port",
  "vxlan_port",
  "datapath",
  "underlay_mtu",
  "metrics",
  "peers",
  "networks",
  "key_file",
  "rekey_after",
  "reject_after",
  "nat_keepalive",
  "workloads",
  "routes",
  "policies",
  "policyFiles",
] as const;

/** Options of {@link parseConfig}: how to reach password files and the environment. */
export interface ParseOptions {
  /** File content, or null when it cannot be read. Default: `Deno.readFileSync`. */
  readFile?: (path: string) => Uint8Array | null;
  /** Like `readFile`, as text (kept for callers of the first version); `readFile` wins. */
  readTextFile?: (path: string) => string | null;
  /** Permission bits, or null when unknown. Default: `Deno.statSync(p).mode`. */
  statMode?: (path: string) => number | null;
  /** Environment for `password: {env: ...}`. Default: the process environment. */
  env?: Record<string, string | undefined>;
  /**
   * Fleet mode (`validateFleet`): password sources are not read or checked, since the secret
   * belongs on the boxes, not in CI. Default false.
   */
  fleet?: boolean;
}

const SYNTAX_HINTS: Record<string, string> = {
  TAB_AS_INDENT: "indent with spaces; YAML does not allow tabs for indentation",
  BAD_INDENT: "check the indentation (spaces only) and that every [ or { is closed",
  MISSING_CHAR: "close the bracket or quote that was opened",
  MULTIPLE_DOCS: "keep a single document: remove the `---` separator",
  BLOCK_AS_IMPLICIT_KEY: "put a space after the colon of each key, and check the indentation",
  MULTILINE_IMPLICIT_KEY: "put a space after the colon of each key, and check the indentation",
  UNEXPECTED_TOKEN: "check the indentation and the `- ` of list items near here",
};

/**
 * Parses and validates weave.yaml text. `path` is used as given in diagnostics and resolved
 * against the working directory for {@link Config.path}; a relative password `file:` is resolved
 * against the config file's folder. Password files and environment variables are only reached
 * through `opts` (defaults: Deno's synchronous APIs). Never throws for bad input.
 */
export function parseConfig(text: string, path: string, opts: ParseOptions = {}): LoadResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    // Duplicates are reported by the reader, naming the key and where it first appeared.
    uniqueKeys: false,
  });
  const report = new Reporter(path, lines);
  for (const e of doc.errors) {
    report.errorAtOffset(
      e.pos[0],
      `invalid YAML${near(text, e.pos[0])}: ${e.message}`,
      SYNTAX_HINTS[e.code] ?? "fix the YAML syntax near here",
    );
  }
  for (const w of doc.warnings) {
    report.report(
      "warning",
      { range: [w.pos[0], w.pos[1], w.pos[1]] },
      `YAML: ${w.message}`,
      "check the YAML near here",
    );
  }
  // A broken tree would only produce noise after a syntax error.
  if (doc.errors.length > 0) return { ok: false, diagnostics: report.diagnostics };

  const ctx: ParseContext = {
    r: new YamlReader(doc, report),
    report,
    path: absolute(path, Deno.cwd()),
    access: passwordAccess(opts),
    fleet: opts.fleet ?? false,
  };
  const config = parseSections(ctx);
  // Found in the order of checks; shown in the order of the file.
  const files = [...new Set([path, ...report.diagnostics.map((d) => d.file)])];
  const diagnostics = report.diagnostics.toSorted((a, b) =>
    files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line || a.column - b.column
  );
  if (!config || report.errorCount > 0) return { ok: false, diagnostics };
  return { ok: true, config, diagnostics };
}

function passwordAccess(opts: ParseOptions): PasswordAccess {
  const system = systemPasswordAccess(opts.env);
  const fromText = opts.readTextFile;
  return {
    readFile: opts.readFile ??
      (fromText
        ? (p) => {
          const t = fromText(p);
          return t === null ? null : new TextEncoder().encode(t);
        }
        : system.readFile),
    statMode: opts.statMode ?? system.statMode,
    env: system.env,
  };
}

/** ` near "<the offending line>"`, shortened, for syntax errors. */
function near(text: string, offset: number): string {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  let end = text.indexOf("\n", offset);
  if (end < 0) end = text.length;
  let line = text.slice(start, end).trim();
  if (line === "") return "";
  if (line.length > 40) line = line.slice(0, 37) + "...";
  return ` near ${JSON.stringify(line)}`;
}

/** Every section in turn; a section's errors never stop the next one from being checked. */
function parseSections(ctx: ParseContext): Config | undefined {
  const { r, report } = ctx;
  const root = r.resolve(r.doc.contents);
  if (!root || (isScalar(root) && (root.value === null || root.value === ""))) {
    report.error(null, "the config is empty", `start with "version: 1", then peers and networks`);
    return undefined;
  }
  const top = r.map(
    root,
    "the config",
    "at the top level",
    TOP_KEYS,
    `"version: 1" on the first line, then peers: and networks:`,
  );
  if (!top) return undefined;

  parseVersion(ctx, top, root);
  const passwords = parsePasswords(ctx, top, root);
  const password = passwords.current;
  const port = optionalInt(ctx, top, "port", 1, 65535, "port: 6783") ?? DEFAULT_PORT;
  const vxlanPort = parseVxlanPort(ctx, top, port);
  const datapath = parseDatapath(ctx, top);
  const underlayMtu = optionalInt(
    ctx,
    top,
    "underlay_mtu",
    MIN_UNDERLAY_MTU,
    MAX_UNDERLAY_MTU,
    "underlay_mtu: 1500",
  ) ?? DEFAULT_UNDERLAY_MTU;
  const metrics = parseMetrics(ctx, top);
  const rawPeers = parsePeers(ctx, top, root, port);
  const peers = checkPeers(ctx, rawPeers, vxlanPort, top, underlayMtu);
  const rawNetworks = parseNetworks(ctx, top, root);
  // Checked even when peers are broken, so their errors do not hide the networks' ones.
  const networks = checkNetworks(ctx, rawNetworks, peers, {
    underlayMtu,
    datapath,
    encrypted: password !== null,
    underlayFamily: rawPeers?.some((p) => p.address?.family === 6) ? 6 : 4,
  });

  const keyFile = parseKeyFile(ctx, top);
  const rekey = parseRekeyTimes(ctx, top);
  const natKeepaliveMs = parseNatKeepalive(ctx, top);
  const workloads = parseWorkloads(ctx, top, peers, networks);
  const routes = parseRoutes(ctx, top, networks);
  const policies = checkPolicyNames(ctx, [
    ...parseInlinePolicies(ctx, top, networks) ?? [],
    ...parsePolicyFiles(ctx, top, networks) ?? [],
  ]);

  if (report.errorCount > 0 || !peers || !networks || password === undefined) return undefined;
  if (vxlanPort === undefined || passwords.previous === undefined) return undefined;
  if (!workloads || !routes) return undefined;
  return {
    version: 1,
    path: ctx.path,
    password,
    port,
    vxlanPort,
    datapath,
    underlayMtu,
    metrics,
    peers,
    networks,
    previousPassword: password === null ? null : passwords.previous,
    keyFile,
    ...rekey,
    natKeepaliveMs,
    workloads,
    routes,
    policies,
  };
}

/** One name per policy within a network, across `policies:` and every policy file. */
function checkPolicyNames(ctx: ParseContext, policies: Policy[]): Policy[] {
  const seen = new Map<string, Policy>();
  for (const p of policies) {
    const key = `${p.network}/${p.name}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, p);
      continue;
    }
    ctx.report.diagnostics.push({
      severity: "error",
      file: p.origin.file,
      line: p.origin.line,
      column: p.origin.column,
      message: `policy "${p.name}" is defined twice in network "${p.network}" (first at ` +
        `${first.origin.file}:${first.origin.line})`,
      hint: "give each policy of a network its own name",
    });
  }
  return policies;
}
