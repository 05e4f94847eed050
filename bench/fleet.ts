/**
 * `deno task bench:fleet [N…]` (root; default 10 50 100): the fleet benchmark. For each N, a
 * fresh lab of N real agents started at once (see `fleet_run.ts` for what is measured); the
 * results go to `bench/results/fleet.json` and `bench/results/fleet.md` (a Markdown table).
 *
 * Options: `--quiet=S` length of the quiet window (default 60 s), `--out=DIR`, `--no-wait` (do
 * not wait for a quiet box), `--deno-flag=F` (repeatable: a flag for each agent's `deno run`,
 * e.g. `--deno-flag=--node-modules-dir=manual`), `--yaml=LINE` (repeatable: a top-level line of
 * the fleet's weave.yaml, e.g. `--yaml='rekey_after: 10m'`; the agents validate it as usual).
 * Other work on the box distorts every figure: the run waits (up to 10 min) until the 1-minute
 * load is below 1.5, and reports the load it started at.
 *
 * @module
 */

import { describeCpu, type FleetRunResult, runFleet } from "./fleet_run.ts";

const LOAD_OK = 1.5;
const LOAD_WAIT_MS = 10 * 60_000;

function parse(args: string[]) {
  const sizes: number[] = [];
  let quietMs = 60_000;
  let out = new URL("./results/", import.meta.url).pathname;
  let noWait = false;
  const denoFlags: string[] = [];
  const yaml: string[] = [];
  for (const a of args) {
    if (a.startsWith("--quiet=")) quietMs = Number(a.slice(8)) * 1000;
    else if (a.startsWith("--out=")) out = a.slice(6).replace(/\/?$/, "/");
    else if (a === "--no-wait") noWait = true;
    else if (a.startsWith("--deno-flag=")) denoFlags.push(a.slice(12));
    else if (a.startsWith("--yaml=") && /^[a-z_]+: \S/.test(a.slice(7))) yaml.push(a.slice(7));
    else if (/^\d+$/.test(a) && Number(a) >= 2 && Number(a) <= 200) sizes.push(Number(a));
    else throw new Error(`bench:fleet: bad argument ${JSON.stringify(a)} (N is 2..200)`);
  }
  if (!Number.isFinite(quietMs) || quietMs < 0) throw new Error("bench:fleet: bad --quiet");
  return { sizes: sizes.length ? sizes : [10, 50, 100], quietMs, out, noWait, denoFlags, yaml };
}

async function waitForQuietBox(): Promise<number> {
  const until = Date.now() + LOAD_WAIT_MS;
  while (true) {
    const l = Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
    if (l < LOAD_OK || Date.now() > until) return l;
    console.log(`  waiting for a quieter box (load ${l})`);
    await new Promise((r) => setTimeout(r, 15_000));
  }
}

const f = (x: number | null, d = 1) => x === null ? "–" : x.toFixed(d);

/** The Markdown table of `results`. */
export function fleetTable(results: FleetRunResult[]): string {
  const rows = [
    "| N | converged (s) | all started (s) | sessions/pair | teardowns/pair | handshakes/pair | dials/pair " +
    "| topology records sent/agent | control messages (MB) sent/agent | CPU s to converge | RSS median / max (MB) | private RSS median / max (MB) | steady CPU s/agent/min | quiet-window session events " +
    "| status --json (ms) | load at start |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    rows.push(
      `| ${r.agents} | ${r.converged ? f(r.convergedSeconds) : "not converged"} | ` +
        `${f(r.allStartedSeconds)} | ${f(r.sessionsPerPair, 2)} | ${f(r.teardownsPerPair, 2)} | ` +
        `${f(r.handshakesPerPair, 2)} | ${f(r.dialsPerPair, 2)} | ${
          f(r.recordsOutPerAgent, 0)
        } | ` +
        `${f(r.messagesOutPerAgent, 0)} (${f(r.megabytesOutPerAgent, 1)}) | ` +
        `${f(r.cpuSecondsToConverge)} | ` +
        `${f(r.rssMedianMB, 0)} / ${f(r.rssMaxMB, 0)} | ` +
        `${f(r.privateMedianMB, 0)} / ${f(r.privateMaxMB, 0)} | ${
          f(r.steadyCpuSecondsPerMinute, 2)
        } | ` +
        `${r.quietSessionEvents} in ${r.quietSeconds} s | ${f(r.statusJsonMs, 0)} | ` +
        `${r.loadAtStart} |`,
    );
  }
  const byThread = results.map((r) => `- N = ${r.agents}: ${describeCpu(r.cpuByThread)}`);
  return rows.join("\n") + "\n\nCPU to converge by thread, all agents:\n\n" +
    byThread.join("\n") + "\n";
}

if (import.meta.main) {
  if (Deno.uid() !== 0) {
    console.error("bench:fleet needs root (network namespaces)");
    Deno.exit(2);
  }
  const { sizes, quietMs, out, noWait, denoFlags, yaml } = parse(Deno.args);
  const results: FleetRunResult[] = [];
  for (const n of sizes) {
    if (!noWait) await waitForQuietBox();
    const r = await runFleet({
      agents: n,
      quietMs,
      denoFlags,
      yaml,
      progress: (l) => console.log(l),
    });
    results.push(r);
    console.log(JSON.stringify(r));
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(`${out}fleet-partial.json`, JSON.stringify(results, null, 2) + "\n");
  }
  const machine = {
    cpus: navigator.hardwareConcurrency,
    kernel: (await Deno.readTextFile("/proc/sys/kernel/osrelease")).trim(),
    deno: Deno.version.deno,
    memTotalMB: Math.round(Deno.systemMemoryInfo().total / 2 ** 20),
    at: new Date().toISOString(),
  };
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(
    `${out}fleet.json`,
    JSON.stringify({ machine, yaml, results }, null, 2) + "\n",
  );
  const md = `Fleet benchmark, ${machine.at}: ${machine.cpus} vCPUs, ${machine.memTotalMB} MB, ` +
    `Linux ${machine.kernel}, Deno ${machine.deno}; sleeve datapath, password, full mesh` +
    (yaml.length ? `; weave.yaml adds ${yaml.map((l) => `\`${l}\``).join(", ")}` : "") + ".\n\n" +
    fleetTable(results);
  await Deno.writeTextFile(`${out}fleet.md`, md);
  console.log("\n" + md);
  console.log(`written: ${out}fleet.json, ${out}fleet.md`);
}
