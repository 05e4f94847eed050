/**
 * Commands of the lab in the root namespace, never through a shell, and the few facts about
 * processes and namespaces that teardown and stale cleanup share.
 *
 * @module
 */

/** Result of a command. */
export interface ExecResult {
  code: number;
  success: boolean;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

/** Runs a command in the root namespace; never through a shell. */
export async function run(
  argv: string[],
  opts: { stdin?: string; timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {},
): Promise<ExecResult> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: opts.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
    cwd: opts.cwd,
    signal: timeout,
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
    await w.close().catch(() => {});
  }
  const out = await child.output();
  const code = timeout.aborted ? 124 : out.code;
  return {
    code,
    success: code === 0,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr) + (timeout.aborted ? "\n[killed: timeout]" : ""),
  };
}

export function runSync(argv: string[]): boolean {
  try {
    return new Deno.Command(argv[0], { args: argv.slice(1), stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or null. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

export async function listNetns(): Promise<string[]> {
  const r = await run(["ip", "-json", "netns", "list"]);
  if (!r.success || r.stdout.trim() === "") return [];
  try {
    return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name);
  } catch {
    return [];
  }
}

/** Kills everything still running in `ns` (SIGKILL): processes the lab did not start itself. */
export async function killNamespacePids(ns: string): Promise<void> {
  const r = await run(["ip", "netns", "pids", ns]);
  for (const line of r.stdout.split("\n")) {
    const pid = Number(line.trim());
    if (Number.isInteger(pid) && pid > 1 && pid !== Deno.pid) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
  }
}
