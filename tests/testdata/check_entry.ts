/**
 * Runs `runCheck` and prints the report as JSON on stdout, the table on stderr; exits with
 * `checkExitCode`. For tests that run the check inside a lab namespace (`ip netns exec`), since
 * a Deno process cannot switch namespaces itself.
 *
 *   deno run -A --unstable-ffi tests/testdata/check_entry.ts CONFIG [NAME] [RUN_DIR]
 *
 * @module
 */

import { checkExitCode, renderCheck, runCheck } from "../../agent/check/mod.ts";

const [configPath, name, runDir] = Deno.args;
if (!configPath) {
  console.error("usage: check_entry.ts CONFIG [NAME] [RUN_DIR]");
  Deno.exit(2);
}
const report = await runCheck({ configPath, name: name || undefined, runDir: runDir || undefined });
console.log(JSON.stringify(report));
console.error(renderCheck(report, { color: false }));
// Exit now: a probe abandoned at its timeout must not keep the process alive.
Deno.exit(checkExitCode(report));
