/**
 * A policy change during traffic leaves no window: while a denied source sends a steady UDP
 * stream to a workload, the policy table is replaced again and again (each time with a different
 * ruleset that still denies it, as when another policy changes). Nothing of the stream may get
 * through, and an allowed stream beside it keeps flowing.
 */

import { ok, strictEqual } from "node:assert";
import { LAB } from "./lab/gate.ts";
import { Lab, type LabHost } from "./lab/lab.ts";
import { planHost } from "../datapath/host/plan.ts";
import { observeHost } from "../datapath/host/observe.ts";
import { applyChanges } from "../datapath/host/apply.ts";
import type { DesiredHost, DesiredPolicy } from "../datapath/host/desired.ts";

const COUNT = new URL("./testdata/udp_count.py", import.meta.url).pathname;
const FLOOD = new URL("./testdata/udp_flood.py", import.meta.url).pathname;

function desired(box: LabHost, ns: Record<string, string>, policies: DesiredPolicy[]): DesiredHost {
  const w = (name: string, address: string) => ({
    name,
    network: "x",
    netns: ns[name],
    address,
    prefixLength: 24,
    mtu: 1400,
    gateway: "10.32.1.1",
  });
  return {
    underlay: { address: box.address, family: 4 },
    vxlanPort: 6784,
    networks: [{
      name: "x",
      vni: 101,
      mtu: 1400,
      address: "10.32.1.1",
      prefixLength: 24,
      sleeve: false,
      fastdp: false,
      fdb: [],
    }],
    esp: [],
    workloads: [w("a", "10.32.1.10"), w("b", "10.32.1.11"), w("c", "10.32.1.12")],
    policies,
  };
}

/** b admits only c; generation `g` adds an unrelated rule so every reload is a new ruleset. */
function policies(g: number): DesiredPolicy[] {
  return [{
    id: "b-from-c",
    endpoints: ["10.32.1.11"],
    ingress: [
      { id: "c", peers: [{ addresses: ["10.32.1.12"] }], ports: null },
      { id: `gen-${g}`, peers: [{ addresses: [`10.32.9.${g % 250}`] }], ports: null },
    ],
    egress: null,
  }];
}

Deno.test({
  name: "policy swap during traffic: no denied datagram gets through, allowed traffic flows",
  ...LAB,
  fn: () =>
    Lab.run({ hosts: ["box"] }, async (lab) => {
      const [box] = lab.hosts;
      const m: Record<string, LabHost> = {};
      for (const n of ["a", "b", "c"]) m[n] = await lab.addMachine(n);
      const ns = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.ns]));
      const reconcile = async (g: number) => {
        const d = desired(box, ns, policies(g));
        const o = await observeHost({ netns: box.ns, workloads: d.workloads });
        await applyChanges(planHost(d, o), { netns: box.ns });
      };
      await reconcile(0);
      const listen = async (port: number) => {
        const p = await lab.spawn(m.b, ["python3", COUNT, "10.32.1.11", String(port), "6"], {
          logFile: `count-${port}.log`,
        });
        await p.waitForLog(/ready/, 10_000);
        return p;
      };
      const denied = await listen(9000);
      const allowed = await listen(9001);
      const floods = [
        lab.exec(m.a, ["python3", FLOOD, "10.32.1.11", "9000", "4", "0.002"]),
        lab.exec(m.c, ["python3", FLOOD, "10.32.1.11", "9001", "4", "0.002"]),
      ];
      let reloads = 0;
      const t0 = Date.now();
      while (Date.now() - t0 < 3500) {
        await reconcile(++reloads);
      }
      const [fa] = await Promise.all(floods);
      const sent = Number(/sent (\d+)/.exec(fa.stdout)?.[1]);
      const gotDenied = Number((await denied.waitForLog(/count (\d+)/, 15_000))[1]);
      const gotAllowed = Number((await allowed.waitForLog(/count (\d+)/, 15_000))[1]);
      ok(reloads >= 5, `policy table replaced ${reloads} times during the stream`);
      strictEqual(gotDenied, 0, `denied stream: ${gotDenied} of ${sent} got through`);
      ok(gotAllowed > sent / 2, `allowed stream: ${gotAllowed} of about ${sent} arrived`);
    }),
});
