/**
 * The fleet harness's /proc readers, against this very process: a Worker that burns CPU shows
 * up as a thread of its own, apart from `main`.
 */

import { ok, strictEqual } from "node:assert";
import { procUsage, threadCpu } from "./fleet_scale.ts";

const BURN_MS = 400;

Deno.test("threadCpu: a busy Worker's CPU is its own thread's, not main's", async () => {
  const before = await threadCpu(Deno.pid);
  const worker = new Worker(
    `data:application/javascript,${
      encodeURIComponent(
        `const end = Date.now() + ${BURN_MS}; let x = 0; while (Date.now() < end) x++; postMessage(x);`,
      )
    }`,
    { type: "module" },
  );
  await new Promise((r) => worker.onmessage = r);
  const after = await threadCpu(Deno.pid);
  worker.terminate();
  const main = (after.get("main") ?? 0) - (before.get("main") ?? 0);
  const others = [...after].filter(([k]) => k !== "main" && k !== "children")
    .reduce((a, [k, v]) => a + v - (before.get(k) ?? 0), 0);
  ok(others >= BURN_MS / 1000 * 0.5, `other threads ${others} s for a ${BURN_MS} ms burn`);
  ok(main < BURN_MS / 1000 * 0.5, `main ${main} s: it only waited`);
  // Every thread's share adds up to the process's own total (children apart).
  const total = [...after].filter(([k]) => k !== "children").reduce((a, [, v]) => a + v, 0);
  const own = (await procUsage(Deno.pid))!.cpuSeconds - after.get("children")!;
  ok(Math.abs(total - own) <= 0.05, `threads ${total} s against the process's ${own} s`);
});

Deno.test("threadCpu: a process that is gone has no threads", async () => {
  const p = new Deno.Command("true").spawn();
  await p.status;
  strictEqual((await threadCpu(p.pid)).size, 0);
});
