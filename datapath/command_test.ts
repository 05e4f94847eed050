import { ok, rejects, strictEqual } from "node:assert";
import {
  CommandError,
  mustRun,
  runCommand,
  throwawayNetnsName,
  withThrowawayNetns,
} from "./command.ts";

Deno.test("runCommand: output, exit code and stdin", async () => {
  const r = await runCommand("sh", ["-c", "read x; echo got $x; echo err >&2; exit 3"], {
    stdin: "hello\n",
  });
  strictEqual(r.ok, false);
  strictEqual(r.code, 3);
  strictEqual(r.stdout, "got hello\n");
  strictEqual(r.stderr, "err\n");
  strictEqual(r.timedOut, false);
});

Deno.test("runCommand: a hung command is killed at its timeout and named in the error", async () => {
  const t0 = performance.now();
  const r = await runCommand("sleep", ["30"], { timeoutMs: 200 });
  const took = performance.now() - t0;
  strictEqual(r.ok, false);
  strictEqual(r.timedOut, true);
  ok(r.stderr.startsWith("sleep 30: timed out after 200 ms (killed)"), r.stderr);
  // Killed, not waited for: far less than the 30 s it would have slept.
  ok(took < 15_000, `took ${took} ms`);
});

Deno.test("runCommand never throws: a missing binary is a failed result naming it", async () => {
  const r = await runCommand("weave-no-such-binary", ["x"]);
  strictEqual(r.ok, false);
  strictEqual(r.code, null);
  ok(r.stderr.startsWith("weave-no-such-binary x: "), r.stderr);
});

Deno.test("mustRun throws a CommandError naming the command", async () => {
  await rejects(
    () => mustRun("sh", ["-c", "echo boom >&2; exit 1"]),
    (e: unknown) => e instanceof CommandError && e.message === "sh -c echo boom >&2; exit 1: boom",
  );
  strictEqual((await mustRun("true", [])).ok, true);
});

Deno.test("throwaway namespaces: names are checked before they reach ip", async () => {
  const name = throwawayNetnsName("probe");
  ok(/^wvprobe[0-9a-z]{8}$/.test(name), name);
  for (const bad of ["", "eth0;rm", "a-b", "Probe", "toolong"]) {
    await rejects(
      () => withThrowawayNetns(bad, () => Promise.resolve()),
      /throwaway netns tag must be/,
      bad,
    );
  }
});
