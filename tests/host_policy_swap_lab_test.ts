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
        const p = await lab.spawn(m.b, ["python3", COUNT, "10.32.1.11", String(port), "600"], {
          logFile: `count-${port}.log`,
        });
        await p.waitForLog(/ready/, 10_000);
        return p;
      };
      const denied = await listen(9000);
      const allowed = await listen(9001);
      const flood = (from: LabHost, port: number) =>
        lab.spawn(from, ["python3", FLOOD, "10.32.1.11", String(port), "600", "0.002"], {
          logFile: `flood-${port}.log`,
        });
      const floods = [await flood(m.a, 9000), await flood(m.c, 9001)];
      // Both streams run before the first swap and after the last one: every swap happens
      // during traffic, however slow this machine is.
      for (const f of floods) await f.waitForLog(/started/, 10_000);
      const RELOADS = 12;
      for (let g = 1; g <= RELOADS; g++) await reconcile(g);
      for (const f of floods) await f.stop("SIGTERM");
      const sent = Number((await floods[0].waitForLog(/sent (\d+)/, 10_000))[1]);
      const sentAllowed = Number((await floods[1].waitForLog(/sent (\d+)/, 10_000))[1]);
      await denied.stop("SIGTERM");
      await allowed.stop("SIGTERM");
      const gotDenied = Number((await denied.waitForLog(/count (\d+)/, 10_000))[1]);
      const gotAllowed = Number((await allowed.waitForLog(/count (\d+)/, 10_000))[1]);
      ok(sent > RELOADS, `the denied stream ran during the swaps: ${sent} datagrams`);
      strictEqual(gotDenied, 0, `denied stream: ${gotDenied} of ${sent} got through`);
      ok(
        gotAllowed > sentAllowed / 2,
        `allowed stream: ${gotAllowed} of ${sentAllowed} arrived`,
      );
    }),
});
