import { deepStrictEqual, match, throws } from "node:assert";
import {
  compileArgv,
  explainFailure,
  outputPath,
  parseCompileArgs,
  RELEASE_TARGETS,
} from "./compile.ts";

const HOST = "x86_64-unknown-linux-gnu";

Deno.test("compile: targets default to the host, --all is the release set", () => {
  deepStrictEqual(parseCompileArgs([], HOST).targets, [HOST]);
  deepStrictEqual(parseCompileArgs(["--all"], HOST).targets, [...RELEASE_TARGETS]);
  deepStrictEqual(
    parseCompileArgs(["--target=aarch64-unknown-linux-gnu", "--target", HOST], HOST).targets,
    ["aarch64-unknown-linux-gnu", HOST],
  );
  deepStrictEqual(parseCompileArgs(["--timeout-s", "30"], HOST).timeoutMs, 30_000);
  throws(() => parseCompileArgs(["--target", "x; rm -rf /"], HOST), /bad --target/);
  throws(() => parseCompileArgs(["--frobnicate"], HOST), /unknown argument/);
});

Deno.test("compile: argv includes the sleeve workers and names the output by arch", () => {
  deepStrictEqual(outputPath("aarch64-unknown-linux-gnu"), "target/weave-agent-aarch64");
  deepStrictEqual(compileArgv(HOST, ["datapath/sleeve/rx_worker.ts"]), [
    "compile",
    "--allow-all",
    "--unstable-ffi",
    "--v8-flags=--max-semi-space-size=1",
    "--target",
    HOST,
    "--include",
    "datapath/sleeve/rx_worker.ts",
    "--output",
    "target/weave-agent-x86_64",
    "main.ts",
  ]);
});

Deno.test("compile: a failed denort download is explained with DENORT_BIN", () => {
  const stderr = "error sending request for url (https://dl.deno.land/release/v2.9.6/" +
    "denort-x86_64-unknown-linux-gnu.zip): client error (Connect): dns error";
  match(explainFailure(HOST, stderr, false), /DENORT_BIN=\/path\/to\/denort/);
  match(explainFailure(HOST, "", true), /timed out/);
  match(explainFailure(HOST, "Type checking failed", false), /^deno compile failed/);
});
