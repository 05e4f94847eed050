/**
 * Workloads for real: the host planner plumbs veths from a network's bridge into workload
 * namespaces (one by name under /run/netns, one by /proc/PID/ns/net), traffic flows between them
 * and to the box, a lost veth is repaired, a gone entry is removed, a missing namespace is that
 * workload's error only, and `down` leaves nothing behind.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { LAB } from "./lab/gate.ts";
import { Lab, type LabHost } from "./lab/lab.ts";
import { planHostDetailed, renderPlan, teardownPlan } from "../datapath/host/plan.ts";
import { observeHost } from "../datapath/host/observe.ts";
import { applyChanges } from "../datapath/host/apply.ts";
import type { DesiredHost, DesiredWorkload } from "../datapath/host/desired.ts";

const MTU = 1400;

function workload(name: string, netns: string, address: string): DesiredWorkload {
  return {
    name,
    network: "sensors",
    netns,
    address,
    prefixLength: 24,
    mtu: MTU,
    gateway: "10.32.1.1",
  };
}

function desired(box: LabHost, workloads: DesiredWorkload[]): DesiredHost {
  return {
    underlay: { address: box.address, family: 4 },
    vxlanPort: 6784,
    networks: [{
      name: "sensors",
      vni: 101,
      mtu: MTU,
      address: "10.32.1.1",
      prefixLength: 24,
      sleeve: false,
      fastdp: false,
      fdb: [],
    }],
    esp: [],
    workloads,
  };
}

async function reconcile(box: LabHost, d: DesiredHost) {
  const observed = await observeHost({ netns: box.ns, workloads: d.workloads });
  const plan = planHostDetailed(d, observed);
  const applied = await applyChanges(plan.changes, { netns: box.ns });
  return { plan, applied };
}

async function ping(lab: Lab, from: LabHost, to: string): Promise<boolean> {
  return (await lab.exec(from, ["ping", "-c", "1", "-W", "2", to])).success;
}

Deno.test({
  name:
    "workloads: plumbed by name and by /proc path, repaired, removed; a missing netns errs alone",
  ...LAB,
  fn: () =>
    Lab.run({ hosts: ["box"] }, async (lab) => {
      const [box] = lab.hosts;
      const w1 = await lab.addMachine("w1");
      const w2 = await lab.addMachine("w2");
      const holder = await lab.spawn(w2, ["sleep", "600"], { logFile: "holder.log" });
      const byPath = `/proc/${holder.pid}/ns/net`;
      const all = [
        workload("cam-1", w1.ns, "10.32.1.10"),
        workload("cam-2", byPath, "10.32.1.11"),
        workload("ghost", `${lab.prefix}-nosuchns`, "10.32.1.12"),
      ];
      const first = await reconcile(box, desired(box, all));
      deepStrictEqual(first.plan.workloads.map((w) => `${w.name}:${w.state}`), [
        "cam-1:plumb",
        "cam-2:plumb",
        "ghost:error",
      ]);
      deepStrictEqual(first.applied.workloadErrors, {});
      ok(await ping(lab, w1, "10.32.1.11"), "cam-1 -> cam-2 over the bridge");
      ok(await ping(lab, w1, "10.32.1.1"), "cam-1 -> the box");
      ok(await ping(lab, box, "10.32.1.11"), "the box -> cam-2");
      const inner = await lab.exec(w1, ["ip", "-json", "link", "show", "dev", "wv-sensors"]);
      strictEqual((JSON.parse(inner.stdout) as { mtu: number }[])[0].mtu, MTU);
      const route = await lab.exec(w1, ["ip", "route", "show", "default"]);
      ok(route.stdout.startsWith("default via 10.32.1.1 dev wv-sensors"), route.stdout);

      const again = await reconcile(box, desired(box, all));
      deepStrictEqual(
        again.plan.changes.map((c) => c.description),
        [],
        renderPlan(again.plan.changes),
      );

      // Someone deletes cam-1's interface inside its namespace: the next pass re-plumbs it.
      await lab.exec(w1, ["ip", "link", "del", "wv-sensors"], { check: true });
      ok(!(await ping(lab, w1, "10.32.1.11")), "cam-1 is cut off");
      const repair = await reconcile(box, desired(box, all));
      strictEqual(repair.plan.workloads[0].state, "plumb");
      ok(await ping(lab, w1, "10.32.1.11"), "cam-1 repaired");

      // cam-2's entry goes: its veth goes, cam-1 stays.
      await reconcile(box, desired(box, [all[0]]));
      const w2links = await lab.exec(w2, ["ip", "-json", "link", "show"]);
      deepStrictEqual((JSON.parse(w2links.stdout) as { ifname: string }[]).map((l) => l.ifname), [
        "lo",
      ]);
      ok(await ping(lab, w1, "10.32.1.1"), "cam-1 unaffected");

      // down: nothing of ours is left, in the box or in the workload's namespace.
      await applyChanges(teardownPlan(await observeHost({ netns: box.ns })), { netns: box.ns });
      const w1links = await lab.exec(w1, ["ip", "-json", "link", "show"]);
      deepStrictEqual((JSON.parse(w1links.stdout) as { ifname: string }[]).map((l) => l.ifname), [
        "lo",
      ]);
      deepStrictEqual((await observeHost({ netns: box.ns })).links, []);
      await holder.stop();
    }),
});
