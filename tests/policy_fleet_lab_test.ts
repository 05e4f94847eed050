/**
 * Network policy, workloads and routes end to end, with real agents: three boxes, networks x, y
 * and z on all of them, workloads a, b, c in each network (a on edge-1, b on edge-2, c on
 * edge-3), each serving TCP and UDP on ports 80 and 81 in its own namespace. As the Kubernetes
 * network-policy e2e suite does it, each case's expected allow/deny of every (from, to, port,
 * protocol) cell is written down as a table below, every cell is probed for real, and a
 * mismatch prints both tables side by side. Each case is applied by rewriting weave.yaml and
 * letting the agents reload (no restarts), so the whole matrix costs seconds per case.
 *
 * Also here, on the same fleet: a policy change under continuous traffic (no window where
 * denied traffic passes), routes one way, a box that is not in the config attacking from the
 * underlay, the matrix again over the sleeve, and a workload's life (missing namespace, repair,
 * removal, `down`).
 */

import { ok, strictEqual } from "node:assert";
import { LAB } from "./lab/gate.ts";
import { cli, Fleet, type FleetOptions } from "./lab/fleet.ts";
import type { LabHost } from "./lab/lab.ts";
import { type AgentStatus, assertAgentStatus } from "../agent/status.ts";
import { controlRequest } from "../agent/ops/control_socket.ts";
import { runPaths } from "../agent/ops/run_paths.ts";
import { workloadVethName } from "../datapath/link_names.ts";

const PROBE = new URL("./testdata/policy_probe.py", import.meta.url).pathname;
const INJECT = new URL("./testdata/vxlan_inject.py", import.meta.url).pathname;
const BOXES = ["edge-1", "edge-2", "edge-3"];
const NETS = { x: "10.50.1", y: "10.50.2", z: "10.50.3" } as const;
type Net = keyof typeof NETS;
const PODS = ["a", "b", "c"] as const;
/** Workload `xa` is pod a of network x: on edge-1, address 10.50.1.10. */
const NAMES = (Object.keys(NETS) as Net[]).flatMap((n) => PODS.map((p) => `${n}${p}`));
const net = (w: string) => w[0] as Net;
const pod = (w: string) => w[1];
const boxOf = (w: string) => BOXES[PODS.indexOf(pod(w) as typeof PODS[number])];
const addressOf = (w: string) => `${NETS[net(w)]}.${10 + PODS.indexOf(pod(w) as "a")}`;
/** The four probes of a cell, in this order. */
const PROBES = ["80/tcp", "81/tcp", "80/udp", "81/udp"];
/** A probe's timeout (s): generous for a loaded machine, bounded; denied probes cost this. */
const PROBE_TIMEOUT_S = "2";
const ALL_ROUTES = ["x y", "y x", "x z", "z x", "y z", "z y"];

interface Case {
  name: string;
  policies: string;
  routes?: string[];
  expect: string;
}

const ALLOW_ALL = `
    xa xb xc ya yb yc za zb zc
xa  .  y  y  y  y  y  y  y  y
xb  y  .  y  y  y  y  y  y  y
xc  y  y  .  y  y  y  y  y  y
ya  y  y  y  .  y  y  y  y  y
yb  y  y  y  y  .  y  y  y  y
yc  y  y  y  y  y  .  y  y  y
za  y  y  y  y  y  y  .  y  y
zb  y  y  y  y  y  y  y  .  y
zc  y  y  y  y  y  y  y  y  .`;

/** Cells: `y`/`n` for all four probes, or four letters for 80/tcp 81/tcp 80/udp 81/udp. */
const CASES: Case[] = [
  {
    name: "no policy, routes between all networks: everything passes",
    policies: "",
    expect: ALLOW_ALL,
  },
  {
    name: "default deny ingress in x",
    policies: `
  - {name: deny-in, network: x, podSelector: {}, policyTypes: [Ingress]}`,
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  n  n  y  y  y  y  y  y
xb  n  .  n  y  y  y  y  y  y
xc  n  n  .  y  y  y  y  y  y
ya  n  n  n  .  y  y  y  y  y
yb  n  n  n  y  .  y  y  y  y
yc  n  n  n  y  y  .  y  y  y
za  n  n  n  y  y  y  .  y  y
zb  n  n  n  y  y  y  y  .  y
zc  n  n  n  y  y  y  y  y  .`,
  },
  {
    name: "default deny egress in x",
    policies: `
  - {name: deny-out, network: x, podSelector: {}, policyTypes: [Egress]}`,
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  n  n  n  n  n  n  n  n
xb  n  .  n  n  n  n  n  n  n
xc  n  n  .  n  n  n  n  n  n
ya  y  y  y  .  y  y  y  y  y
yb  y  y  y  y  .  y  y  y  y
yc  y  y  y  y  y  .  y  y  y
za  y  y  y  y  y  y  .  y  y
zb  y  y  y  y  y  y  y  .  y
zc  y  y  y  y  y  y  y  y  .`,
  },
  {
    name: "x/a allows ingress from pods labelled b (its own network only)",
    policies: `
  - name: a-from-b
    network: x
    podSelector: {matchLabels: {pod: a}}
    ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`,
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  y  y  y  y  y  y  y  y
xb  y  .  y  y  y  y  y  y  y
xc  n  y  .  y  y  y  y  y  y
ya  n  y  y  .  y  y  y  y  y
yb  n  y  y  y  .  y  y  y  y
yc  n  y  y  y  y  .  y  y  y
za  n  y  y  y  y  y  .  y  y
zb  n  y  y  y  y  y  y  .  y
zc  n  y  y  y  y  y  y  y  .`,
  },
  {
    name: "x/a allows ingress from network y (namespace selector by name)",
    policies: `
  - name: a-from-y
    network: x
    podSelector: {matchLabels: {pod: a}}
    ingress: [{from: [{networkSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]}]`,
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  y  y  y  y  y  y  y  y
xb  n  .  y  y  y  y  y  y  y
xc  n  y  .  y  y  y  y  y  y
ya  y  y  y  .  y  y  y  y  y
yb  y  y  y  y  .  y  y  y  y
yc  y  y  y  y  y  .  y  y  y
za  n  y  y  y  y  y  .  y  y
zb  n  y  y  y  y  y  y  .  y
zc  n  y  y  y  y  y  y  y  .`,
  },
  {
    name: "x/a: network y AND pod b in one peer",
    policies: `
  - name: a-from-yb
    network: x
    podSelector: {matchLabels: {pod: a}}
    ingress:
      - from:
          - networkSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
            podSelector: {matchLabels: {pod: b}}`,
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  y  y  y  y  y  y  y  y
xb  n  .  y  y  y  y  y  y  y
xc  n  y  .  y  y  y  y  y  y
ya  n  y  y  .  y  y  y  y  y
yb  y  y  y  y  .  y  y  y  y
yc  n  y  y  y  y  .  y  y  y
za  n  y  y  y  y  y  .  y  y
zb  n  y  y  y  y  y  y  .  y
zc  n  y  y  y  y  y  y  y  .`,
  },
  {
    name: "x/a: network y OR pod b (two peers)",
    policies: `
  - name: a-from-y-or-b
    network: x
    podSelector: {matchLabels: {pod: a}}
    ingress:
      - from:
          - networkSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
          - podSelector: {matchLabels: {pod: b}}`,
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  y  y  y  y  y  y  y  y
xb  y  .  y  y  y  y  y  y  y
xc  n  y  .  y  y  y  y  y  y
ya  y  y  y  .  y  y  y  y  y
yb  y  y  y  y  .  y  y  y  y
yc  y  y  y  y  y  .  y  y  y
za  n  y  y  y  y  y  .  y  y
zb  n  y  y  y  y  y  y  .  y
zc  n  y  y  y  y  y  y  y  .`,
  },
  {
    name: "x/a: ports TCP 81 and UDP 79-80 (endPort)",
    policies: `
  - name: a-ports
    network: x
    podSelector: {matchLabels: {pod: a}}
    ingress:
      - ports: [{protocol: TCP, port: 81}]
      - ports: [{protocol: UDP, port: 79, endPort: 80}]`,
    expect: `
    xa   xb xc ya yb yc za zb zc
xa  .    y  y  y  y  y  y  y  y
xb  nyyn .  y  y  y  y  y  y  y
xc  nyyn y  .  y  y  y  y  y  y
ya  nyyn y  y  .  y  y  y  y  y
yb  nyyn y  y  y  .  y  y  y  y
yc  nyyn y  y  y  y  .  y  y  y
za  nyyn y  y  y  y  y  .  y  y
zb  nyyn y  y  y  y  y  y  .  y
zc  nyyn y  y  y  y  y  y  y  .`,
  },
  {
    name: "x/a: ipBlock network y except y/b",
    policies: `
  - name: a-ipblock
    network: x
    podSelector: {matchLabels: {pod: a}}
    ingress: [{from: [{ipBlock: {cidr: 10.50.2.0/24, except: [10.50.2.11/32]}}]}]`,
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  y  y  y  y  y  y  y  y
xb  n  .  y  y  y  y  y  y  y
xc  n  y  .  y  y  y  y  y  y
ya  y  y  y  .  y  y  y  y  y
yb  n  y  y  y  .  y  y  y  y
yc  y  y  y  y  y  .  y  y  y
za  n  y  y  y  y  y  .  y  y
zb  n  y  y  y  y  y  y  .  y
zc  n  y  y  y  y  y  y  y  .`,
  },
  {
    name: "x/a: egress to network z only",
    policies: `
  - name: a-to-z
    network: x
    podSelector: {matchLabels: {pod: a}}
    policyTypes: [Egress]
    egress: [{to: [{networkSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]}]`,
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  n  n  n  n  n  y  y  y
xb  y  .  y  y  y  y  y  y  y
xc  y  y  .  y  y  y  y  y  y
ya  y  y  y  .  y  y  y  y  y
yb  y  y  y  y  .  y  y  y  y
yc  y  y  y  y  y  .  y  y  y
za  y  y  y  y  y  y  .  y  y
zb  y  y  y  y  y  y  y  .  y
zc  y  y  y  y  y  y  y  y  .`,
  },
  {
    name: "an allow-all for x/a overrides the network's default deny",
    policies: `
  - {name: deny-in, network: x, podSelector: {}, policyTypes: [Ingress]}
  - {name: a-all, network: x, podSelector: {matchLabels: {pod: a}}, ingress: [{}]}`,
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  n  n  y  y  y  y  y  y
xb  y  .  n  y  y  y  y  y  y
xc  y  n  .  y  y  y  y  y  y
ya  y  n  n  .  y  y  y  y  y
yb  y  n  n  y  .  y  y  y  y
yc  y  n  n  y  y  .  y  y  y
za  y  n  n  y  y  y  .  y  y
zb  y  n  n  y  y  y  y  .  y
zc  y  n  n  y  y  y  y  y  .`,
  },
  {
    name: "routes one way: only x -> y (replies pass), nothing else between networks",
    policies: "",
    routes: ["x y"],
    expect: `
    xa xb xc ya yb yc za zb zc
xa  .  y  y  y  y  y  n  n  n
xb  y  .  y  y  y  y  n  n  n
xc  y  y  .  y  y  y  n  n  n
ya  n  n  n  .  y  y  n  n  n
yb  n  n  n  y  .  y  n  n  n
yc  n  n  n  y  y  .  n  n  n
za  n  n  n  n  n  n  .  y  y
zb  n  n  n  n  n  n  y  .  y
zc  n  n  n  n  n  n  y  y  .`,
  },
];

// ---- the fleet's weave.yaml ----

function workloadLines(netns: Record<string, string>, only = NAMES): string[] {
  return [
    "workloads:",
    ...only.map((w) =>
      `  - {name: ${w}, peer: ${boxOf(w)}, network: ${net(w)}, address: ${addressOf(w)}, ` +
      `netns: ${netns[w]}, labels: {pod: ${pod(w)}}}`
    ),
  ];
}

function caseLines(c: { policies: string; routes?: string[] }): string[] {
  const routes = c.routes ?? ALL_ROUTES;
  return [
    "routes:",
    ...routes.map((r) => `  - {from: ${r.split(" ")[0]}, to: ${r.split(" ")[1]}}`),
    ...(c.policies ? ["policies:", ...c.policies.split("\n").filter((l) => l.trim())] : []),
  ];
}

function fleetOptions(datapath: "fastdp" | "sleeve", extra: string[] = []): FleetOptions {
  return {
    hosts: [...BOXES, "outsider"],
    peers: BOXES,
    skip: ["outsider"],
    password: null,
    datapath,
    logLevel: "info",
    networks: (Object.keys(NETS) as Net[]).map((n) => ({ name: n, subnet: `${NETS[n]}.0/24` })),
    extra,
  };
}

// ---- agents, in-process over their control sockets (no CLI process per poll) ----

async function statusOf(fleet: Fleet, name: string): Promise<AgentStatus | null> {
  try {
    return await controlRequest<AgentStatus>(
      runPaths(fleet.lab.agentRunDir, name).socket,
      { cmd: "status" },
      (v) => {
        assertAgentStatus(v);
        return v;
      },
      15_000,
    );
  } catch {
    return null;
  }
}

/** Rewrites every box's weave.yaml and waits until each agent reloaded it and reconciled. */
async function applyConfig(fleet: Fleet, opts: FleetOptions, timeoutMs = 90_000): Promise<void> {
  const since = new Date().toISOString();
  const before = await Promise.all(
    BOXES.map((b) => Deno.readTextFile(fleet.configs.get(b)!).catch(() => "")),
  );
  for (const b of BOXES) await fleet.writeConfig(fleet.host(b), opts);
  const after = await Promise.all(BOXES.map((b) => Deno.readTextFile(fleet.configs.get(b)!)));
  // The same text again is no reload at all (the agents already run it).
  if (after.every((t, i) => t === before[i])) return;
  const deadline = Date.now() + timeoutMs;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = [];
    for (const b of BOXES) {
      const s = await statusOf(fleet, b);
      // In force once a reconcile planned from the new config ended (one that started
      // before the reload finished may end after it, with the old rules).
      const done = s !== null && s.config.loadedAt >= since && s.reconcile !== null &&
        s.reconcile.configLoadedAt === s.config.loadedAt && !s.reconcile.error;
      if (!done) {
        last.push(
          `${b}: loadedAt=${s?.config.loadedAt} reload=${JSON.stringify(s?.config.lastReload)} ` +
            `reconcile=${JSON.stringify(s?.reconcile)}`,
        );
      }
    }
    if (last.length === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  fleet.lab.markFailed();
  throw new Error(`config not applied within ${timeoutMs} ms:\n${last.join("\n")}`);
}

// ---- the matrix ----

/** Expected cells from a written table: `y`/`n` stand for all four probes. */
function grid(text: string): Map<string, string> {
  const lines = text.trim().split("\n").map((l) => l.trim().split(/\s+/));
  const cols = lines[0];
  const out = new Map<string, string>();
  for (const row of lines.slice(1)) {
    row.slice(1).forEach((cell, j) => {
      if (cols[j] === row[0]) return;
      out.set(`${row[0]} ${cols[j]}`, cell.length === 1 ? cell.repeat(PROBES.length) : cell);
    });
  }
  return out;
}

function render(cells: Map<string, string>): string[] {
  const short = (c: string) => (/^(y+|n+)$/.test(c) ? c[0] : c);
  return [
    `    ${NAMES.map((n) => n.padEnd(5)).join("")}`,
    ...NAMES.map((s) =>
      `${s}  ${
        NAMES.map((d) => (s === d ? "." : short(cells.get(`${s} ${d}`) ?? "?")).padEnd(5)).join("")
      }`
    ),
  ];
}

async function probeCells(
  fleet: Fleet,
  ns: Record<string, LabHost>,
  cells: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const bySource = new Map<string, string[]>();
  for (const c of cells) {
    bySource.set(c.split(" ")[0], [...(bySource.get(c.split(" ")[0]) ?? []), c]);
  }
  await Promise.all([...bySource].map(async ([s, list]) => {
    const targets = list.flatMap((c) => PROBES.map((p) => `${addressOf(c.split(" ")[1])}:${p}`));
    const r = await fleet.lab.exec(
      ns[s],
      ["python3", PROBE, "probe", PROBE_TIMEOUT_S, ...targets],
      {
        check: true,
        timeoutMs: 60_000,
      },
    );
    const okBy = new Map(r.stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]));
    for (const c of list) {
      const d = c.split(" ")[1];
      out.set(
        c,
        PROBES.map((p) => okBy.get(`${addressOf(d)}:${p}`) === "yes" ? "y" : "n").join(""),
      );
    }
  }));
  return out;
}

/**
 * Probes every cell; a cell expected to pass that did not is probed once more (a loaded machine
 * may lose a probe), a cell expected to be denied that passed is a failure at once.
 */
async function checkMatrix(
  fleet: Fleet,
  ns: Record<string, LabHost>,
  name: string,
  expect: string,
): Promise<string | null> {
  const want = grid(expect);
  const got = await probeCells(fleet, ns, [...want.keys()]);
  const lost = [...want].filter(([k, v]) =>
    got.get(k) !== v && [...v].every((ch, i) => ch === "y" || got.get(k)![i] === "n")
  ).map(([k]) => k);
  if (lost.length) { for (const [k, v] of await probeCells(fleet, ns, lost)) got.set(k, v); }
  const bad = [...want].filter(([k, v]) => got.get(k) !== v).map(([k]) => k);
  if (bad.length === 0) return null;
  const [w, g] = [render(want), render(got)];
  return `case "${name}": ${bad.length} cells differ (${bad.join(", ")})\n` +
    `  expected${" ".repeat(44)}probed\n` +
    w.map((l, i) => `  ${l.padEnd(52)}${g[i]}`).join("\n");
}

async function runCases(
  fleet: Fleet,
  ns: Record<string, LabHost>,
  base: (extra: string[]) => FleetOptions,
  netns: Record<string, string>,
  cases: Case[],
): Promise<string[]> {
  const failures: string[] = [];
  for (const c of cases) {
    await applyConfig(fleet, base([...workloadLines(netns), ...caseLines(c)]));
    const f = await checkMatrix(fleet, ns, c.name, c.expect);
    console.log(`  ${f ? "FAIL" : "ok  "} ${c.name}`);
    if (f) failures.push(f);
  }
  return failures;
}

/** What every step works on. */
interface World {
  fleet: Fleet;
  /** Each workload's namespace. */
  ns: Record<string, LabHost>;
  /** Workload name -> namespace name, for weave.yaml. */
  netns: Record<string, string>;
  /** Fleet options on the fast datapath with these extra lines. */
  fast: (extra: string[]) => FleetOptions;
}

// ---- the steps ----

/** Step: workloads join by reload; matrix over fast datapath. */
async function matrixOverFastDatapath({ fleet, ns, netns, fast }: World): Promise<void> {
  const failures = await runCases(fleet, ns, fast, netns, CASES);
  for (const b of BOXES) {
    const s = (await statusOf(fleet, b))!;
    const bad = s.workloads.filter((w) => w.state !== "ok");
    strictEqual(bad.length, 0, `${b}: ${JSON.stringify(bad)}`);
    strictEqual(s.workloads.length, 3, `${b}: ${JSON.stringify(s.workloads)}`);
  }
  strictEqual(failures.join("\n\n"), "");
}

/** Step: a policy change under traffic: no window where denied traffic passes. */
async function policyChangeUnderTraffic({ fleet, ns, netns, fast }: World): Promise<void> {
  const before = {
    policies: `
  - name: b-in
    network: x
    podSelector: {matchLabels: {pod: b}}
    ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}], ports: [{protocol: TCP, port: 81}]}]`,
  };
  const after = { policies: before.policies.replace("{pod: a}", "{pod: c}") };
  await applyConfig(fleet, fast([...workloadLines(netns), ...caseLines(before)]));
  const stop = `${fleet.lab.runDir}/watch-stop`;
  const xb = addressOf("xb");
  // denied before and after: xa and xc to xb:80; allowed before only: xa to xb:81;
  // allowed after only: xc to xb:81; allowed throughout (a control): ya to yb:80.
  const watch = (from: string, targets: string[]) =>
    fleet.lab.spawn(ns[from], ["python3", PROBE, "watch", stop, "0.3", ...targets], {
      logFile: `watch-${from}.log`,
    });
  const watchers = [
    await watch("xa", [`${xb}:80/tcp`, `${xb}:81/tcp`]),
    await watch("xc", [`${xb}:80/tcp`, `${xb}:81/tcp`]),
    await watch("ya", [`${addressOf("yb")}:80/tcp`]),
  ];
  for (const w of watchers) await w.waitForLog(/watching/, 20_000);
  await new Promise((r) => setTimeout(r, 1500));
  await applyConfig(fleet, fast([...workloadLines(netns), ...caseLines(after)]));
  await new Promise((r) => setTimeout(r, 1500));
  await Deno.writeTextFile(stop, "");
  const counts = new Map<string, [number, number]>();
  for (const [i, w] of watchers.entries()) {
    await w.status;
    const from = ["xa", "xc", "ya"][i];
    for (const l of (await w.readLog()).split("\n")) {
      const m = /^(\S+) (\d+) (\d+)$/.exec(l.trim());
      if (m) counts.set(`${from} ${m[1]}`, [Number(m[2]), Number(m[3])]);
    }
  }
  const shown = JSON.stringify(Object.fromEntries(counts));
  const get = (k: string) => counts.get(k) ?? [0, 0];
  strictEqual(get(`xa ${xb}:80/tcp`)[0], 0, `denied traffic passed: ${shown}`);
  strictEqual(get(`xc ${xb}:80/tcp`)[0], 0, `denied traffic passed: ${shown}`);
  ok(get(`xa ${xb}:80/tcp`)[1] >= 5, `too few probes across the reload: ${shown}`);
  ok(get(`xa ${xb}:81/tcp`)[0] > 0, `the old policy never let xa in: ${shown}`);
  ok(get(`xc ${xb}:81/tcp`)[0] > 0, `the new policy never let xc in: ${shown}`);
  const control = get(`ya ${addressOf("yb")}:80/tcp`);
  ok(
    control[0] > 0 && control[0] === control[1],
    `control (no policy) lost probes: ${shown}`,
  );
  // Counters per rule in status. Every box carries every policy, so a denied connection is
  // dropped (and counted) on the first box it meets: the sender's, here edge-1 and edge-3.
  const counted = { allowed: 0, denied: 0 };
  for (const b of BOXES) {
    const st = (await statusOf(fleet, b))!;
    counted.allowed += st.policy.policies.find((p) => p.id === "x-b-in")?.rules[0]?.packets ?? 0;
    counted.denied += st.policy.denied.ingress.packets;
  }
  ok(counted.allowed > 0 && counted.denied > 0, `policy counters: ${JSON.stringify(counted)}`);
}

/**
 * Step: a policy or route change cuts the connections it no longer allows, both ways. xa holds a
 * TCP connection and a UDP flow to xb and is subscribed to xb's UDP stream (traffic in
 * conntrack's reply direction only), all opened while xb admits xa; za holds the same to ya over
 * the route z -> y. Then xb admits only xc, and the route z -> y goes (y -> z stays). Nothing may
 * pass after the change is in force: not xa's pings (the original direction), not xb's stream
 * (the reply direction, which a compromised xb could otherwise keep flowing for as long as it
 * likes), not za's pings; ya's stream to za still may (the route y -> z carries it). ya's hold on
 * yb, which nothing touches, must go on (a control).
 */
async function policyChangeCutsConnections({ fleet, ns, netns, fast }: World): Promise<void> {
  const before = {
    policies: `
  - {name: b-in, network: x, podSelector: {matchLabels: {pod: b}}, ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]}`,
  };
  const after = {
    policies: before.policies.replace("{pod: a}", "{pod: c}"),
    routes: ALL_ROUTES.filter((r) => r !== "z y"),
  };
  await applyConfig(fleet, fast([...workloadLines(netns), ...caseLines(before)]));
  const stop = `${fleet.lab.runDir}/hold-stop`;
  const mark = `${fleet.lab.runDir}/hold-mark`;
  const hold = (from: string, to: string) => {
    const a = addressOf(to);
    return fleet.lab.spawn(ns[from], [
      ...["python3", PROBE, "hold", stop, mark, `${a}:81`, `${a}:81`, `${a}:82`],
    ], { logFile: `hold-${from}.log` });
  };
  const holders = {
    xa: await hold("xa", "xb"),
    za: await hold("za", "ya"),
    ya: await hold("ya", "yb"),
  };
  for (const h of Object.values(holders)) await h.waitForLog(/holding/, 20_000);
  await new Promise((r) => setTimeout(r, 1500));
  await applyConfig(fleet, fast([...workloadLines(netns), ...caseLines(after)]));
  await Deno.writeTextFile(mark, "");
  await new Promise((r) => setTimeout(r, 3000));
  await Deno.writeTextFile(stop, "");
  const seen: Record<string, Record<string, number[]>> = {};
  for (const [from, h] of Object.entries(holders)) {
    await h.status;
    seen[from] = {};
    for (const l of (await h.readLog()).split("\n")) {
      const m = /^(tcp|udp|stream) ([\d ]+)$/.exec(l.trim());
      if (m) seen[from][m[1]] = m[2].split(" ").map(Number);
    }
  }
  const shown = JSON.stringify(seen);
  for (const k of ["tcp", "udp"]) {
    for (const from of ["xa", "za"]) {
      const [okBefore, , okAfter, sentAfter] = seen[from][k] ?? [0, 0, 0, 0];
      ok(okBefore > 0, `${from}'s ${k} never worked before the change: ${shown}`);
      ok(sentAfter >= 5, `${from}'s ${k}: too few pings after the change: ${shown}`);
      strictEqual(okAfter, 0, `${from}'s ${k} outlived the change that denies it: ${shown}`);
    }
    const [, , cOk, cSent] = seen.ya[k] ?? [0, 0, 0, 0];
    ok(cSent >= 10 && cOk === cSent, `control ya -> yb ${k} lost pings: ${shown}`);
  }
  const [ticksBefore, ticksAfter] = seen.xa.stream ?? [0, 0];
  ok(ticksBefore > 0, `xb's stream never reached xa under the old policy: ${shown}`);
  strictEqual(ticksAfter, 0, `xb's stream to xa outlived the policy that denies it: ${shown}`);
  ok((seen.ya.stream ?? [0, 0])[1] >= 10, `control stream yb -> ya stopped: ${shown}`);
  ok((seen.za.stream ?? [0, 0])[1] >= 10, `ya's stream to za (route y -> z) stopped: ${shown}`);
}

/** Step: a box not in the config reaches no overlay address, injects no VXLAN. */
async function outsiderOnTheUnderlay({ fleet, ns, netns, fast }: World): Promise<void> {
  await applyConfig(fleet, fast([...workloadLines(netns), ...caseLines({ policies: "" })]));
  const outsider = fleet.host("outsider");
  const edge1 = fleet.host("edge-1");
  for (const n of Object.keys(NETS)) {
    await fleet.lab.exec(outsider, [
      ...["ip", "route", "add", `${NETS[n as Net]}.0/24`, "via", edge1.address],
    ], { check: true });
  }
  const targets = ["xa", "ya", "za"].flatMap((w) => PROBES.map((p) => `${addressOf(w)}:${p}`))
    .concat(["10.50.1.1:80/tcp", "10.50.1.1:6783/tcp"]);
  const own = await fleet.lab.exec(outsider, ["python3", PROBE, "probe", "1", ...targets], {
    check: true,
  });
  strictEqual(
    own.stdout.includes(" yes"),
    false,
    `reached from the underlay:\n${own.stdout}`,
  );
  // Raw VXLAN with x's VNI at edge-1, carrying a UDP datagram from xb to xa's echo server:
  // what reaches xa is echoed back to xb and counted there. The real peer edge-2 (the
  // control: no password, so its clear VXLAN counts) gets through; the outsider does not.
  const vni = (await statusOf(fleet, "edge-1"))!.networks.find((n) => n.name === "x")!.vni;
  const mac = (JSON.parse(
    (await fleet.lab.exec(ns.xa, ["ip", "-json", "link", "show", "dev", "wv-x"], {
      check: true,
    })).stdout,
  ) as { address: string }[])[0].address;
  const echoed = async (from: LabHost) => {
    const listen = await fleet.lab.spawn(ns.xb, [
      "python3",
      "-c",
      "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n" +
      `s.bind(("0.0.0.0",40000))\ns.settimeout(3)\nprint("ready",flush=True)\nn=0\n` +
      "try:\n  while True:\n    s.recv(64); n+=1\nexcept socket.timeout:\n  pass\n" +
      'print("got", n, flush=True)',
    ], { logFile: `vxlan-listen-${from.name}.log` });
    await listen.waitForLog(/ready/, 20_000);
    await fleet.lab.exec(from, [
      ...["python3", INJECT, from.address, edge1.address, "6784", String(vni), mac],
      ...[addressOf("xb"), addressOf("xa"), "80", "20"],
    ], { check: true });
    return Number((await listen.waitForLog(/got (\d+)/, 30_000))[1]);
  };
  const control = await echoed(fleet.host("edge-2"));
  ok(control > 0, `control: VXLAN from the real peer was not delivered (${control})`);
  const injected = await echoed(outsider);
  strictEqual(injected, 0, `VXLAN from the outsider reached xa: ${injected} of 20`);
}

/** Step: the matrix again over the sleeve. */
async function matrixOverSleeve({ fleet, ns, netns }: World): Promise<void> {
  await Promise.all(BOXES.map((b) => fleet.agents.get(b)!.stop("SIGTERM", 10_000)));
  const sleeve = (extra: string[]) => fleetOptions("sleeve", extra);
  const first = sleeve([...workloadLines(netns), ...caseLines(CASES[0])]);
  for (const b of BOXES) await fleet.writeConfig(fleet.host(b), first);
  await Promise.all(BOXES.map(async (b) => {
    const a = await fleet.startAgent(fleet.host(b));
    await a.waitForLog(/agent up/, 60_000);
  }));
  await fleet.settled("sleeve", 90_000);
  // Warm-up, bounded: right after all agents restarted, traffic routed between networks
  // through a box that was the last to start was seen to take a few seconds to flow (the
  // pairs were already "up"); the strict cases below start once the baseline holds.
  const warm = Date.now() + 45_000;
  let warmup: string | null = "not probed";
  const warmStart = Date.now();
  while (warmup !== null && Date.now() < warm) {
    warmup = await checkMatrix(fleet, ns, "warm-up", ALLOW_ALL);
  }
  const took = `${((Date.now() - warmStart) / 1000).toFixed(1)} s`;
  console.log(`  warm-up over the sleeve (${took}): ${warmup === null ? "ok" : warmup}`);
  const pick = [CASES[0], CASES[1], CASES[8], CASES[11]];
  const failures = await runCases(fleet, ns, sleeve, netns, pick);
  strictEqual(failures.join("\n\n"), "");
}

/** Step: a workload's life: missing namespace, repair, removal, down. */
async function workloadLife({ fleet, ns, netns }: World): Promise<void> {
  const sleeve = (extra: string[]) => fleetOptions("sleeve", extra);
  const missing = `${fleet.lab.prefix}-late`;
  const lines = [
    ...workloadLines(netns),
    `  - {name: late, peer: edge-1, network: x, address: 10.50.1.20, netns: ${missing}}`,
    ...caseLines({ policies: "" }),
  ];
  await applyConfig(fleet, sleeve(lines));
  let s = (await statusOf(fleet, "edge-1"))!;
  const late = s.workloads.find((w) => w.name === "late");
  strictEqual(late?.state, "error", JSON.stringify(s.workloads));
  ok(/late|does not exist|netns|namespace/i.test(late?.error ?? ""), JSON.stringify(late));
  strictEqual(
    s.workloads.filter((w) => w.state === "ok").length,
    3,
    JSON.stringify(s.workloads),
  );
  // The rest applies: xa still reaches xb.
  strictEqual(
    await checkMatrix(
      fleet,
      ns,
      "others unaffected",
      `
      xa xb
  xa  .  y
  xb  y  .`,
    ),
    null,
  );
  const human = await cli(fleet.lab, fleet.host("edge-1"), ["status", "--name", "edge-1"]);
  ok(human.stdout.includes("late"), `status text names the workload:\n${human.stdout}`);
  // The namespace appears: the agent plumbs it without a reload.
  const lateNs = await fleet.lab.addMachine("late");
  strictEqual(lateNs.ns, missing);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    s = (await statusOf(fleet, "edge-1"))!;
    if (s.workloads.find((w) => w.name === "late")?.state === "ok") break;
    await new Promise((r) => setTimeout(r, 500));
  }
  strictEqual(
    s.workloads.find((w) => w.name === "late")?.state,
    "ok",
    JSON.stringify(s.workloads),
  );
  const ping = await fleet.lab.exec(lateNs, ["ping", "-c1", "-W2", addressOf("xb")]);
  strictEqual(ping.code, 0, `late -> xb: ${ping.stdout}${ping.stderr}`);
  // Removed from the config: its veth goes.
  const veth = workloadVethName("x", "late");
  await applyConfig(fleet, sleeve([...workloadLines(netns), ...caseLines({ policies: "" })]));
  const links = await fleet.lab.exec("edge-1", ["ip", "-o", "link", "show"], { check: true });
  strictEqual(links.stdout.includes(veth), false, links.stdout);
  // Routes forward on the routed bridges only: the box as a whole is no router.
  const sw = await fleet.lab.exec("edge-2", [
    ...["sysctl", "-n", "net.ipv4.ip_forward", "net.ipv4.conf.wvb-x.forwarding"],
  ], { check: true });
  strictEqual(sw.stdout.trim().split("\n").join(" "), "0 1", "ip_forward, wvb-x forwarding");
  // down removes everything of ours, workload veths included.
  await fleet.agents.get("edge-1")!.stop("SIGTERM", 10_000);
  fleet.agents.delete("edge-1");
  const down = await cli(fleet.lab, fleet.host("edge-1"), ["down", "--name", "edge-1"]);
  strictEqual(down.code, 0, down.stderr);
  const after = await fleet.lab.exec("edge-1", ["ip", "-o", "link", "show"], { check: true });
  strictEqual(/wv[btxw]-/.test(after.stdout), false, after.stdout);
  const tables = await fleet.lab.exec("edge-1", ["nft", "list", "tables"], { check: true });
  strictEqual(/weave_/.test(tables.stdout), false, tables.stdout);
  const inner = await fleet.lab.exec(ns.xa, ["ip", "-o", "link", "show"], { check: true });
  strictEqual(inner.stdout.includes("wv-x"), false, inner.stdout);
}

// ---- the test ----

Deno.test({
  name: "policy, workloads and routes with real agents: reachability matrix and more",
  ...LAB,
  fn: async (t) => {
    const fleet = await Fleet.start(fleetOptions("fastdp"));
    try {
      // No box-wide ip_forward: the agents enable forwarding on the routed bridges only.
      for (const b of BOXES) {
        const f = await fleet.lab.exec(b, ["sysctl", "-n", "net.ipv4.ip_forward"], { check: true });
        strictEqual(f.stdout.trim(), "0", `${b}: ip_forward`);
      }
      const ns: Record<string, LabHost> = {};
      for (const w of NAMES) ns[w] = await fleet.lab.addMachine(w);
      const netns = Object.fromEntries(NAMES.map((w) => [w, ns[w].ns]));
      for (const w of NAMES) {
        const p = await fleet.lab.spawn(ns[w], [
          "python3",
          PROBE,
          "serve",
          "80",
          "81",
          "--stream",
          "82",
        ], {
          logFile: `serve-${w}.log`,
        });
        await p.waitForLog(/ready/, 20_000);
      }
      await fleet.settled("fastdp", 90_000);
      const fast = (extra: string[]) => fleetOptions("fastdp", extra);
      const world: World = { fleet, ns, netns, fast };
      // A failed step keeps the lab's logs (agents, servers, probes) for a look afterwards.
      const step = async (name: string, fn: () => Promise<void>) => {
        if (!(await t.step(name, fn))) fleet.lab.markFailed();
      };

      await step(
        "workloads join by reload; matrix over fast datapath",
        () => matrixOverFastDatapath(world),
      );
      await step(
        "a policy change under traffic: no window where denied traffic passes",
        () => policyChangeUnderTraffic(world),
      );
      await step(
        "a policy or route change cuts the connections it no longer allows, both ways",
        () => policyChangeCutsConnections(world),
      );
      await step(
        "a box not in the config reaches no overlay address, injects no VXLAN",
        () => outsiderOnTheUnderlay(world),
      );
      await step("the matrix again over the sleeve", () => matrixOverSleeve(world));
      await step(
        "a workload's life: missing namespace, repair, removal, down",
        () => workloadLife(world),
      );
    } finally {
      await fleet.destroy();
    }
  },
});
