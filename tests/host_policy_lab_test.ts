/**
 * Routes and network policy for real, as a reachability matrix (the way the Kubernetes
 * network-policy e2e suite does it): two boxes joined by VXLAN, networks x and y on both,
 * workloads xa, xb, ya on box 1 and xc, yb on box 2, each serving TCP and UDP on ports 80 and
 * 81. A route x -> y is declared (one way). For each case the expected cell of every (from, to,
 * port, protocol) is written down below, every cell is probed for real, and a mismatch prints
 * both tables side by side. The host planner and applier are driven directly.
 */

import { strictEqual } from "node:assert";
import { LAB } from "./lab/gate.ts";
import { Lab, type LabHost } from "./lab/lab.ts";
import { planHostDetailed, renderPlan } from "../datapath/host/plan.ts";
import { observeHost } from "../datapath/host/observe.ts";
import { applyChanges } from "../datapath/host/apply.ts";
import type { DesiredHost, DesiredPolicy, DesiredWorkload } from "../datapath/host/desired.ts";
import { readPolicyCounters } from "../datapath/host/policy_counters.ts";

const SERVER = new URL("./testdata/reach_server.py", import.meta.url).pathname;
const CLIENT = new URL("./testdata/reach_client.py", import.meta.url).pathname;
const MTU = 1400;
const NETS = { x: { vni: 101, prefix: "10.32.1" }, y: { vni: 102, prefix: "10.32.2" } } as const;
type Net = keyof typeof NETS;

/** Workloads: name -> box index, network, address. */
const WORKLOADS: Record<string, { box: number; net: Net; address: string }> = {
  xa: { box: 0, net: "x", address: "10.32.1.10" },
  xb: { box: 0, net: "x", address: "10.32.1.11" },
  ya: { box: 0, net: "y", address: "10.32.2.10" },
  xc: { box: 1, net: "x", address: "10.32.1.12" },
  yb: { box: 1, net: "y", address: "10.32.2.11" },
};
const NAMES = Object.keys(WORKLOADS);
/** The three probes of a cell, in this order. */
const PROBES = ["80/tcp", "81/tcp", "80/udp"];

const boxAddress = (box: number, net: Net) => `${NETS[net].prefix}.${box + 1}`;

function desired(
  boxes: LabHost[],
  i: number,
  netns: Record<string, string>,
  policies: DesiredPolicy[],
): DesiredHost {
  const other = boxes[1 - i];
  const workloads: DesiredWorkload[] = NAMES.filter((n) => WORKLOADS[n].box === i).map((n) => ({
    name: n,
    network: WORKLOADS[n].net,
    netns: netns[n],
    address: WORKLOADS[n].address,
    prefixLength: 24,
    mtu: MTU,
    gateway: boxAddress(i, WORKLOADS[n].net),
  }));
  return {
    underlay: { address: boxes[i].address, family: 4 },
    vxlanPort: 6784,
    networks: (Object.keys(NETS) as Net[]).map((net) => ({
      name: net,
      vni: NETS[net].vni,
      mtu: MTU,
      address: boxAddress(i, net),
      prefixLength: 24,
      sleeve: false,
      fastdp: true,
      fdb: [{ peer: other.name, underlay: other.address, macs: [] }],
    })),
    esp: [],
    workloads,
    routes: [{ from: "x", to: "y" }],
    policies,
  };
}

/** Expected cells: one row per source, one 3-letter cell (80/tcp 81/tcp 80/udp) per target. */
function grid(text: string): Map<string, string> {
  const lines = text.trim().split("\n").map((l) => l.trim().split(/\s+/));
  const cols = lines[0];
  const out = new Map<string, string>();
  for (const row of lines.slice(1)) {
    row.slice(1).forEach((cell, j) => {
      if (cols[j] !== row[0]) out.set(`${row[0]} ${cols[j]}`, cell);
    });
  }
  return out;
}

function render(cells: Map<string, string>): string[] {
  return [
    `   ${NAMES.map((n) => n.padEnd(4)).join("")}`,
    ...NAMES.map((s) =>
      `${s} ${NAMES.map((d) => (s === d ? "-" : cells.get(`${s} ${d}`) ?? "?").padEnd(4)).join("")}`
    ),
  ];
}

const BASELINE = `
     xa  xb  ya  xc  yb
xa   -   yyy yyy yyy yyy
xb   yyy -   yyy yyy yyy
ya   nnn nnn -   nnn yyy
xc   yyy yyy yyy -   yyy
yb   nnn nnn yyy nnn -`;

const CASES: { name: string; policies: DesiredPolicy[]; expect: string }[] = [
  { name: "routes only, no policy: x -> y routed, y -> x not", policies: [], expect: BASELINE },
  {
    name: "default deny ingress for xa",
    policies: [{ id: "deny-xa", endpoints: ["10.32.1.10"], ingress: [], egress: null }],
    expect: `
     xa  xb  ya  xc  yb
xa   -   yyy yyy yyy yyy
xb   nnn -   yyy yyy yyy
ya   nnn nnn -   nnn yyy
xc   nnn yyy yyy -   yyy
yb   nnn nnn yyy nnn -`,
  },
  {
    name: "xb: ingress from xa on TCP 80 only (local and over VXLAN)",
    policies: [{
      id: "allow-xb",
      endpoints: ["10.32.1.11"],
      ingress: [{
        id: "from-xa",
        peers: [{ addresses: ["10.32.1.10"] }],
        ports: [{ protocol: "TCP", port: 80 }],
      }],
      egress: null,
    }],
    expect: `
     xa  xb  ya  xc  yb
xa   -   ynn yyy yyy yyy
xb   yyy -   yyy yyy yyy
ya   nnn nnn -   nnn yyy
xc   yyy nnn yyy -   yyy
yb   nnn nnn yyy nnn -`,
  },
  {
    name: "xc: egress to network y only (ipBlock), except yb; ports 80-81 via endPort",
    policies: [{
      id: "xc-out",
      endpoints: ["10.32.1.12"],
      ingress: null,
      egress: [{
        id: "to-y",
        peers: [{ cidr: "10.32.2.0/24", except: ["10.32.2.11/32"] }],
        ports: [{ protocol: "TCP", port: 80, endPort: 81 }, { protocol: "UDP", port: 80 }],
      }],
    }],
    expect: `
     xa  xb  ya  xc  yb
xa   -   yyy yyy yyy yyy
xb   yyy -   yyy yyy yyy
ya   nnn nnn -   nnn yyy
xc   nnn nnn yyy -   nnn
yb   nnn nnn yyy nnn -`,
  },
  {
    name: "an allow-all policy overrides a deny for xa",
    policies: [
      { id: "deny-xa", endpoints: ["10.32.1.10"], ingress: [], egress: null },
      {
        id: "all-xa",
        endpoints: ["10.32.1.10"],
        ingress: [{ id: "all", peers: null, ports: null }],
        egress: null,
      },
    ],
    expect: BASELINE,
  },
];

async function probeAll(lab: Lab, netns: Record<string, LabHost>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(NAMES.map(async (s) => {
    const targets = NAMES.filter((d) => d !== s).flatMap((d) =>
      PROBES.map((p) => `${WORKLOADS[d].address}:${p}`)
    );
    const r = await lab.exec(netns[s], ["python3", CLIENT, ...targets], { check: true });
    const ok = new Map(r.stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]));
    for (const d of NAMES.filter((d) => d !== s)) {
      out.set(
        `${s} ${d}`,
        PROBES.map((p) => ok.get(`${WORKLOADS[d].address}:${p}`) === "yes" ? "y" : "n").join(""),
      );
    }
  }));
  return out;
}

Deno.test({
  name: "routes and policy: reachability matrix over two boxes (bridge, VXLAN, routed)",
  ...LAB,
  fn: () =>
    Lab.run({ hosts: ["b1", "b2"] }, async (lab) => {
      const boxes = lab.hosts;
      // Forwarding comes from the plan (per bridge of a routed network), not from the test.
      for (const b of boxes) {
        const f = await lab.exec(b, ["sysctl", "-n", "net.ipv4.ip_forward"], { check: true });
        strictEqual(f.stdout.trim(), "0", `${b.name}: global forwarding stays off`);
      }
      const ns: Record<string, LabHost> = {};
      for (const n of NAMES) ns[n] = await lab.addMachine(n);
      const names = Object.fromEntries(NAMES.map((n) => [n, ns[n].ns]));
      const reconcile = async (policies: DesiredPolicy[]) => {
        for (const i of [0, 1]) {
          const d = desired(boxes, i, names, policies);
          const observed = await observeHost({ netns: boxes[i].ns, workloads: d.workloads });
          const plan = planHostDetailed(d, observed);
          const r = await applyChanges(plan.changes, { netns: boxes[i].ns });
          strictEqual(JSON.stringify(r.workloadErrors), "{}");
          const again = planHostDetailed(
            d,
            await observeHost({ netns: boxes[i].ns, workloads: d.workloads }),
          );
          strictEqual(again.changes.length, 0, renderPlan(again.changes));
        }
      };
      await reconcile([]);
      for (const n of NAMES) {
        const p = await lab.spawn(ns[n], ["python3", SERVER, WORKLOADS[n].address, "80", "81"], {
          logFile: `server-${n}.log`,
        });
        await p.waitForLog(/ready/, 10_000);
      }
      const failures: string[] = [];
      for (const c of CASES) {
        await reconcile(c.policies);
        const want = grid(c.expect);
        const got = await probeAll(lab, ns);
        const bad = [...want].filter(([k, v]) => got.get(k) !== v).map(([k]) => k);
        if (bad.length) {
          const [w, g] = [render(want), render(got)];
          failures.push(
            `case "${c.name}": ${bad.length} cells differ (${bad.join(", ")})\n` +
              `  expected${" ".repeat(19)}probed\n` +
              w.map((l, i) => `  ${l.padEnd(27)}${g[i]}`).join("\n"),
          );
        }
      }
      const counters = await readPolicyCounters({ netns: boxes[0].ns });
      strictEqual(failures.join("\n\n"), "");
      // The last case's allow-all rule on box 1 counted xa's incoming connections.
      const all = counters.find((c) => c.policy === "all-xa" && c.rule === "all");
      strictEqual((all?.packets ?? 0) > 0, true, JSON.stringify(counters));
    }),
});
