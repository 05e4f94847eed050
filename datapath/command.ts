/**
 * The one process runner. Every kernel-facing module (`ip`, `bridge`, `nft`, …) goes through
 * `runCommand`: an argument array, never a shell; optionally inside a network namespace and with
 * text on stdin (batch files); always with a timeout, so a hung `ip` or `nft` cannot wedge the
 * agent. `withThrowawayNetns` gives probes and tests a uniquely named namespace that is always
 * removed.
 *
 * ## The error contract (one for every command we run)
 * - `runCommand` never throws. It returns a {@link CommandResult}; `ok` is true only when the
 *   process ran and exited 0. A process that could not start (missing binary, permissions) or
 *   was killed at its timeout is a failed result whose `stderr` names the command; `timedOut`
 *   tells the two apart. Use it where the caller decides what a failure means: probes (a failure
 *   is a finding), observation (absent objects), cleanup (best effort).
 * - `mustRun` throws a {@link CommandError} when the result is not `ok`; its message names the
 *   command (`ip -batch -`, …) and carries the tool's first line of stderr. Use it where a
 *   failure means the operation failed (applying a plan, creating a probe namespace).
 * - Nothing else in `datapath/` spawns processes or invents a third contract.
 *
 * May import: nothing of ours.
 *
 * @module
 */

/** Default limit for one command: generous for a loaded box, far below "the agent hangs". */
export const DEFAULT_COMMAND_TIMEOUT_MS = 20_000;

/** Prefix of every throwaway namespace: the lab's stale cleanup and `wv…` ownership agree. */
export const THROWAWAY_NETNS_PREFIX = "wv";

/** Outcome of a command. */
export interface CommandResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** Exit code, or null when the process never started or was killed. */
  code: number | null;
  /** True when the process was killed at its timeout. */
  timedOut: boolean;
}

/** Options of {@link runCommand}. */
export interface CommandOptions {
  /** Text written to the process's stdin (batch files); stdin is closed when absent. */
  stdin?: string;
  /** Runs the command as `ip netns exec NS cmd args…`. */
  netns?: string;
  /** Kill the process after this many milliseconds. Default {@link DEFAULT_COMMAND_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** A command that failed where failure is an error (see the module's error contract). */
export class CommandError extends Error {
  constructor(readonly command: string, readonly result: CommandResult) {
    super(`${command}: ${firstLine(result.stderr) || `exit code ${result.code}`}`);
    this.name = "CommandError";
  }
}

/** The command as a person would type it (for messages; never executed through a shell). */
export function describeCommand(cmd: string, args: string[], netns?: string): string {
  const words = netns ? ["ip", "netns", "exec", netns, cmd, ...args] : [cmd, ...args];
  const shown = words.join(" ");
  return shown.length > 120 ? `${shown.slice(0, 117)}...` : shown;
}

function firstLine(s: string): string {
  return s.trim().split("\n")[0] ?? "";
}

/** Runs `cmd args…`. Never throws: see the module's error contract. */
export async function runCommand(
  cmd: string,
  args: string[],
  opts: CommandOptions = {},
): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const argv = opts.netns ? ["netns", "exec", opts.netns, cmd, ...args] : args;
  const shown = describeCommand(cmd, args, opts.netns);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(opts.netns ? "ip" : cmd, {
      args: argv,
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, stdout: "", stderr: `${shown}: ${why}`, code: null, timedOut: false };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      // A process that exits without reading its stdin must not turn into an exception here.
      await w.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
      await w.close().catch(() => {});
    }
    const o = await child.output();
    const td = new TextDecoder();
    const stderr = td.decode(o.stderr);
    if (timedOut) {
      return {
        ok: false,
        stdout: td.decode(o.stdout),
        stderr: `${shown}: timed out after ${timeoutMs} ms (killed)${stderr ? `\n${stderr}` : ""}`,
        code: null,
        timedOut: true,
      };
    }
    return {
      ok: o.success,
      stdout: td.decode(o.stdout),
      stderr,
      code: o.signal ? null : o.code,
      timedOut: false,
    };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, stdout: "", stderr: `${shown}: ${why}`, code: null, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `cmd args…` and throws a {@link CommandError} naming it unless it succeeded. */
export async function mustRun(
  cmd: string,
  args: string[],
  opts: CommandOptions = {},
): Promise<CommandResult> {
  const r = await runCommand(cmd, args, opts);
  if (!r.ok) throw new CommandError(describeCommand(cmd, args, opts.netns), r);
  return r;
}

/** A fresh namespace name `wv<tag><random>`, at most 15 characters, `[a-z0-9]`. */
export function throwawayNetnsName(tag: string): string {
  if (!/^[a-z]{1,5}$/.test(tag)) throw new Error(`throwaway netns tag must be 1-5 of a-z: ${tag}`);
  const rnd = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => (b % 36).toString(36))
    .join("");
  return `${THROWAWAY_NETNS_PREFIX}${tag}${rnd}`;
}

/**
 * Creates a uniquely named namespace (`wv<tag>…`, loopback up; the lab's stale cleanup knows
 * the family, tests/lab/stale.ts), runs `body` in it and always deletes it, also when `body`
 * throws. Throws a {@link CommandError} when it cannot be created.
 */
export async function withThrowawayNetns<T>(
  tag: string,
  body: (netns: string) => Promise<T>,
): Promise<T> {
  const ns = throwawayNetnsName(tag);
  await mustRun("ip", ["netns", "add", ns]);
  try {
    await runCommand("ip", ["-n", ns, "link", "set", "lo", "up"]);
    return await body(ns);
  } finally {
    await runCommand("ip", ["netns", "del", ns]);
  }
}
