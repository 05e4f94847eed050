import { deepStrictEqual, strictEqual } from "node:assert";
import { COMMANDS } from "./args.ts";
import { DISPATCHED } from "./commands.ts";

Deno.test("the dispatcher has a file for every command the parser knows", () => {
  deepStrictEqual([...DISPATCHED].sort(), Object.keys(COMMANDS).sort());
});

/** Runs main.ts with FFI denied (and no --unstable-ffi): loading any native library fails. */
async function runWithoutFfi(args: string[]) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--deny-ffi",
      "--allow-read",
      "--allow-env",
      new URL("../../main.ts", import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const td = new TextDecoder();
  return { code: o.code, stdout: td.decode(o.stdout), stderr: td.decode(o.stderr) };
}

Deno.test("--version, --help and usage errors load no native library", async () => {
  const version = await runWithoutFfi(["--version"]);
  deepStrictEqual({ code: version.code, stderr: version.stderr }, { code: 0, stderr: "" });
  strictEqual(/^weave-agent \d+\.\d+\.\d+\n$/.test(version.stdout), true, version.stdout);

  for (const args of [["--help"], ["up", "--help"], ["status", "--help"], ["check", "--help"]]) {
    const r = await runWithoutFfi(args);
    strictEqual(r.code, 0, `${args.join(" ")}: code ${r.code}\n${r.stderr}`);
    strictEqual(r.stdout.startsWith("weave-agent"), true, r.stdout);
  }

  const bad = await runWithoutFfi(["up", "--bogus"]);
  strictEqual(bad.code, 2, bad.stderr);
  strictEqual(bad.stderr.includes("Unknown option '--bogus'"), true, bad.stderr);
});
