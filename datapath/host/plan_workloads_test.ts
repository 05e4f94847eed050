import { deepStrictEqual, strictEqual } from "node:assert";
import { EMPTY_OBSERVED as empty, type ObservedHost } from "./desired.ts";
import { planHostDetailed, renderPlan } from "./plan.ts";
import { encryptedDesired } from "./testdata/fixtures.ts";
import type { DesiredHost, DesiredWorkload } from "./desired.ts";
import { workloadVethName } from "../link_names.ts";

const GOLDEN = new URL("./testdata/workloads_plan.golden", import.meta.url);

function cam(name: string, netns: string, address: string): DesiredWorkload {
  return {
    name,
    network: "sensors",
    netns,
    address,
    prefixLength: 24,
    mtu: 1416,
    gateway: "10.32.1.1",
  };
}

function withWorkloads(): DesiredHost {
  return {
    ...encryptedDesired(),
    esp: [],
    workloads: [
      cam("cam-1", "cam1", "10.32.1.10"),
      cam("cam-2", "/proc/4242/ns/net", "10.32.1.11"),
    ],
  };
}

Deno.test("workloads: golden plan (a name and a path), one batch each, results", async () => {
  const p = planHostDetailed(withWorkloads(), {
    ...empty,
    workloads: {
      "cam-1": { netnsFound: true, inner: null, defaultRoute: null },
      "cam-2": { netnsFound: true, inner: null, defaultRoute: null },
    },
  });
  const text = renderPlan(p.changes.filter((c) => c.workload)) + "\n";
  if (Deno.env.get("WEAVE_UPDATE_GOLDEN")) await Deno.writeTextFile(GOLDEN, text);
  strictEqual(text, await Deno.readTextFile(GOLDEN));
  deepStrictEqual(p.workloads.map((w) => `${w.name}:${w.state}`), ["cam-1:plumb", "cam-2:plumb"]);
});

Deno.test("workloads: a missing namespace or a bad entry is that workload's error only", () => {
  const d = withWorkloads();
  d.workloads!.push(
    cam("cam-3", "ghost", "10.32.1.12"),
    cam("cam-4", "bad ns; rm -rf /", "10.32.1.13"),
    cam("cam-5", "/proc/1/../../etc", "10.32.1.14"),
    { ...cam("cam-6", "cam6", "10.32.1.15"), network: "elsewhere" },
  );
  const p = planHostDetailed(d, {
    ...empty,
    workloads: {
      "cam-1": { netnsFound: true, inner: null, defaultRoute: null },
      "cam-2": { netnsFound: true, inner: null, defaultRoute: null },
      "cam-3": { netnsFound: false, inner: null, defaultRoute: null },
    },
  });
  deepStrictEqual(p.workloads.map((w) => [w.name, w.state, w.error]), [
    ["cam-1", "plumb", undefined],
    ["cam-2", "plumb", undefined],
    ["cam-3", "error", "namespace ghost does not exist"],
    ["cam-4", "error", 'invalid namespace name "bad ns; rm -rf /"'],
    ["cam-5", "error", 'invalid namespace path "/proc/1/../../etc"'],
    ["cam-6", "error", "network elsewhere is not on this box"],
  ]);
  deepStrictEqual([...new Set(p.changes.flatMap((c) => c.workload ?? []))], ["cam-1", "cam-2"]);
});

Deno.test("workloads: in place is no change; a lost inner end is re-plumbed; a gone entry is removed", () => {
  const d = withWorkloads();
  const hostLink = (name: string): ObservedHost["links"][number] => ({
    name: workloadVethName("sensors", name),
    kind: "veth",
    mtu: 1416,
    up: true,
    master: "wvb-sensors",
    address: null,
    isolated: null,
    vxlan: null,
    addresses: [],
  });
  const inPlace = {
    netnsFound: true,
    inner: { up: true, mtu: 1416, addresses: ["10.32.1.10/24", "fe80::1/64"] },
    defaultRoute: { via: "10.32.1.1", dev: "wv-sensors" },
  };
  const only1 = { ...d, workloads: [d.workloads![0]] };
  const ok = planHostDetailed(only1, {
    ...empty,
    links: [hostLink("cam-1")],
    workloads: { "cam-1": inPlace },
  });
  deepStrictEqual(ok.changes.filter((c) => c.workload).map((c) => c.description), []);
  strictEqual(ok.workloads[0].state, "ok");
  const lost = planHostDetailed(only1, {
    ...empty,
    links: [hostLink("cam-1")],
    workloads: { "cam-1": { ...inPlace, inner: null } },
  });
  strictEqual(
    lost.changes.filter((c) => c.workload)[0].args.join(" "),
    `link del dev ${workloadVethName("sensors", "cam-1")}`,
  );
  const routeGone = planHostDetailed(only1, {
    ...empty,
    links: [hostLink("cam-1")],
    workloads: { "cam-1": { ...inPlace, defaultRoute: null } },
  });
  deepStrictEqual(routeGone.changes.filter((c) => c.workload).map((c) => c.args.join(" ")), [
    "route replace default via 10.32.1.1 dev wv-sensors",
  ]);
  const gone = planHostDetailed({ ...d, workloads: [] }, { ...empty, links: [hostLink("cam-1")] });
  deepStrictEqual(
    gone.changes.filter((c) => c.args.includes(hostLink("cam-1").name)).map((c) =>
      c.args.join(" ")
    ),
    [
      `link del dev ${hostLink("cam-1").name}`,
    ],
  );
});
