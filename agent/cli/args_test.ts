import { deepStrictEqual, strictEqual, throws } from "node:assert";
import { commandHelp, COMMANDS, mainHelp, parseCommandLine, UsageError } from "./args.ts";

Deno.test("every command is listed in --help and has its own --help", () => {
  for (const c of ["up", "validate", "plan", "check", "status", "down", "genpass"]) {
    strictEqual(mainHelp().includes(`  ${c} `), true, c);
    strictEqual(commandHelp(c).startsWith(`weave-agent ${c}: `), true);
    deepStrictEqual(parseCommandLine([c, "--help"]), { kind: "help", command: c });
  }
  strictEqual(Object.keys(COMMANDS).length, 7);
});

Deno.test("flags parse with defaults", () => {
  const p = parseCommandLine(["validate", "-c", "x.yaml", "--name", "edge-1", "--json"]);
  deepStrictEqual(p, {
    kind: "command",
    command: "validate",
    flags: {
      config: "x.yaml",
      name: "edge-1",
      json: true,
      logLevel: "info",
      logFormat: "text",
      runDir: undefined,
      showKeys: false,
      out: undefined,
      format: "text",
    },
  });
  const gh = parseCommandLine(["validate", "--format", "github"]);
  strictEqual(gh.kind === "command" && gh.flags.format, "github");
  const gp = parseCommandLine(["genpass", "--out", "/etc/weave/secret.txt"]);
  strictEqual(gp.kind === "command" && gp.flags.out, "/etc/weave/secret.txt");
  const up = parseCommandLine(["up"]);
  strictEqual(up.kind === "command" && up.flags.config, "/etc/weave/weave.yaml");
});

Deno.test("usage errors are precise", () => {
  throws(
    () => parseCommandLine(["frobnicate"]),
    (e: Error) => e instanceof UsageError && /unknown command "frobnicate"/.test(e.message),
  );
  throws(() => parseCommandLine(["up", "--bogus"]), UsageError);
  throws(() => parseCommandLine(["validate", "--show-keys"]), /does not apply/);
  throws(() => parseCommandLine(["up", "--log-level", "loud"]), /--log-level must be/);
  throws(() => parseCommandLine(["up", "--name", "../etc"]), /not a valid peer name/);
  throws(
    () => parseCommandLine(["validate", "--format", "xml"]),
    /--format must be text or github/,
  );
  throws(() => parseCommandLine(["validate", "--json", "--format", "github"]), /pick one/);
  throws(() => parseCommandLine(["up", "--out", "x"]), /does not apply/);
});

Deno.test("the CLI process exits 2 on usage errors and 0 on help", async () => {
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-ffi",
        new URL("../../main.ts", import.meta.url).pathname,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  strictEqual((await run(["--help"])).code, 0);
  const bad = await run(["nope"]);
  strictEqual(bad.code, 2);
  strictEqual(new TextDecoder().decode(bad.stderr).includes('unknown command "nope"'), true);
});
