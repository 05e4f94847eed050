/**
 * Runs one external command (`ip`, `bridge`, `nft`, …) with an argument array, never through a
 * shell, optionally inside a network namespace (tests and probes) and with text on stdin (batch
 * files). Every kernel-facing module goes through this one function.
 *
 * @module
 */

/** Outcome of a command. */
export interface CommandResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args…`; `netns` runs it as `ip netns exec NS cmd args…`. Never throws for a failed command. */
export async function runCommand(
  cmd: string,
  args: string[],
  opts: { stdin?: string; netns?: string } = {},
): Promise<CommandResult> {
  const argv = opts.netns ? ["netns", "exec", opts.netns, cmd, ...args] : args;
  try {
    const p = new Deno.Command(opts.netns ? "ip" : cmd, {
      args: argv,
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (opts.stdin !== undefined) {
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    }
    const o = await p.output();
    const td = new TextDecoder();
    return { ok: o.success, stdout: td.decode(o.stdout), stderr: td.decode(o.stderr) };
  } catch (e) {
    return { ok: false, stdout: "", stderr: e instanceof Error ? e.message : String(e) };
  }
}
