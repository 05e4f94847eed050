/**
 * `deno task compile [--target TRIPLE]... [--all]`: single-file `weave-agent` binaries in
 * `target/weave-agent-<arch>` (default: this machine's target only).
 *
 * `deno compile` embeds the program into `denort`, a slim Deno runtime it downloads per target
 * from dl.deno.land. Offline, fetch `denort-<target>.zip` elsewhere, unzip it and set
 * `DENORT_BIN=/path/to/denort`: deno reads that variable itself (there is no command-line flag),
 * we only pass it through, and since it names one binary it only works for one target per run.
 * The sleeve's packet-path Worker is loaded by URL at run time, so its entry module
 * (`SLEEVE_WORKER_MODULE`, exported by the sleeve) is passed with `--include`.
 *
 * @module
 */

import { SLEEVE_WORKER_MODULE } from "../datapath/sleeve/mod.ts";
import { v8FlagsArg } from "../agent/ops/v8_flags.ts";

/** Targets we release. */
export const RELEASE_TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] as const;

const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const TARGET_RE = /^[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+(-[a-z0-9_]+)?$/;

/** Parsed command line. */
export interface CompileRequest {
  targets: string[];
  timeoutMs: number;
}

/** Parses `--target T` (repeatable), `--all`, `--timeout-s N`; throws on anything else. */
export function parseCompileArgs(args: string[], hostTarget: string): CompileRequest {
  const targets: string[] = [];
  let timeoutMs = 600_000;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--all") targets.push(...RELEASE_TARGETS);
    else if (a === "--target" || a.startsWith("--target=")) {
      const t = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i];
      if (!t || !TARGET_RE.test(t)) throw new Error(`bad --target ${JSON.stringify(t ?? "")}`);
      targets.push(t);
    } else if (a === "--timeout-s") {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n <= 0) throw new Error("--timeout-s needs a positive integer");
      timeoutMs = n * 1000;
    } else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  return { targets: [...new Set(targets.length ? targets : [hostTarget])], timeoutMs };
}

/** `target/weave-agent-<arch>` for a target triple. */
export function outputPath(target: string): string {
  return `target/weave-agent-${target.split("-")[0]}`;
}

/** The `deno compile` argv (without the deno binary) for one target. */
export function compileArgv(target: string, includes: string[]): string[] {
  return [
    "compile",
    "--allow-all",
    "--unstable-ffi",
    v8FlagsArg(),
    "--target",
    target,
    ...includes.flatMap((f) => ["--include", f]),
    "--output",
    outputPath(target),
    "main.ts",
  ];
}

/** Worker entry modules of the sleeve, relative to the repo root (their imports come along). */
export function workerModules(root = REPO_ROOT): Promise<string[]> {
  const path = new URL(SLEEVE_WORKER_MODULE).pathname;
  if (!path.startsWith(`${root}/`)) throw new Error(`sleeve worker ${path} is outside ${root}`);
  return Promise.resolve([path.slice(root.length + 1)]);
}

/** A human explanation for a failed `deno compile`, from its stderr. */
export function explainFailure(target: string, stderr: string, timedOut: boolean): string {
  if (timedOut || /dl\.deno\.land|denort|error sending request|dns error/i.test(stderr)) {
    return `deno compile could not get the denort runtime for ${target}` +
      (timedOut ? " (timed out)" : "") + ". It downloads it from dl.deno.land; " +
      "if this machine cannot reach it, download " +
      `denort-${target}.zip (same Deno version) elsewhere, unzip it, and rerun with ` +
      `DENORT_BIN=/path/to/denort deno task compile --target ${target}`;
  }
  return `deno compile failed for ${target}`;
}

async function compileOne(target: string, includes: string[], timeoutMs: number): Promise<void> {
  const argv = compileArgv(target, includes);
  console.error(`$ deno ${argv.join(" ")}`);
  const signal = AbortSignal.timeout(timeoutMs);
  const child = new Deno.Command(Deno.execPath(), {
    args: argv,
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
    signal,
  }).spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    const text = decoder.decode(chunk, { stream: true });
    stderr += text;
    await Deno.stderr.write(chunk);
  }
  const status = await child.status;
  if (!status.success) throw new Error(explainFailure(target, stderr, signal.aborted));
}

/** Runs a host-arch binary once: a denort that is really a full `deno` would open a REPL. */
async function smokeTest(target: string): Promise<void> {
  const out = await new Deno.Command(`${REPO_ROOT}/${outputPath(target)}`, {
    args: ["--version"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success || !text.startsWith("weave-agent ")) {
    throw new Error(
      `${outputPath(target)} --version printed ${JSON.stringify(text.slice(0, 80))}: ` +
        "the binary does not run weave-agent (is DENORT_BIN a denort, not a full deno?)",
    );
  }
  console.error(`ok: ${outputPath(target)} --version: ${text.trim()}`);
}

async function main(args: string[]): Promise<number> {
  let req: CompileRequest;
  try {
    req = parseCompileArgs(args, Deno.build.target);
  } catch (e) {
    console.error(`compile: ${e instanceof Error ? e.message : e}`);
    console.error("usage: deno task compile [--target TRIPLE]... [--all] [--timeout-s N]");
    return 2;
  }
  const denort = Deno.env.get("DENORT_BIN");
  if (denort && req.targets.length > 1) {
    console.error("compile: DENORT_BIN names one runtime binary: give exactly one --target");
    return 2;
  }
  const includes = await workerModules();
  await Deno.mkdir(`${REPO_ROOT}/target`, { recursive: true });
  for (const target of req.targets) {
    try {
      await compileOne(target, includes, req.timeoutMs);
      if (target === Deno.build.target) await smokeTest(target);
    } catch (e) {
      console.error(`compile: ${e instanceof Error ? e.message : e}`);
      return 1;
    }
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
