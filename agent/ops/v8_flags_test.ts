import { strictEqual } from "node:assert";
import { v8FlagsArg } from "./v8_flags.ts";

Deno.test("the agent's V8 flags as one deno argument, the same that deno.json's agent task uses", async () => {
  const arg = v8FlagsArg();
  strictEqual(arg, "--v8-flags=--max-semi-space-size=1");
  const tasks = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)))
    .tasks as Record<string, string>;
  strictEqual(tasks.agent.split(" ").includes(arg), true, tasks.agent);
});
