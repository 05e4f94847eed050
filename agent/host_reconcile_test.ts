import { deepStrictEqual, strictEqual } from "node:assert";
import { planText } from "./host_reconcile.ts";
import { wantedSysctls } from "./host_sysctl.ts";

Deno.test("plan text: the changes, then each workload that will not be plumbed and why", () => {
  const text = planText({
    changes: [{
      kind: "link",
      description: "cam-1: bring wvw-61d70b0d up",
      tool: "ip",
      args: ["link", "set", "dev", "wvw-61d70b0d", "up"],
      workload: "cam-1",
    }],
    workloads: [
      { name: "cam-1", network: "cameras", state: "plumb" },
      { name: "cam-2", network: "cameras", state: "error", error: "namespace cam2 does not exist" },
    ],
  }, false);
  strictEqual(
    text,
    "ip link set dev wvw-61d70b0d up  # cam-1: bring wvw-61d70b0d up\n" +
      "# workload cam-2 (cameras) not plumbed: namespace cam2 does not exist\n",
  );
  strictEqual(planText({ changes: [], workloads: [] }, false), "");
});

Deno.test("sysctls: br_netfilter with policy, forwarding on the bridges of routes only", () => {
  const net = (name: string, address: string) => ({
    name,
    vni: 1,
    mtu: 1400,
    address,
    prefixLength: 24,
    sleeve: true,
    fastdp: false,
    fdb: [],
  });
  const base = {
    underlay: { address: "192.0.2.1", family: 4 as const },
    vxlanPort: 6784,
    networks: [net("x", "10.1.0.1"), net("y", "10.2.0.1"), net("z", "10.3.0.1")],
    esp: [],
  };
  deepStrictEqual(wantedSysctls(base), []);
  deepStrictEqual(
    wantedSysctls({
      ...base,
      routes: [{ from: "y", to: "x" }],
      policies: [{ id: "x-deny", endpoints: ["10.1.0.10"], ingress: [], egress: null }],
    }).map((w) => [w.path, w.afterPlan]),
    [
      ["net/bridge/bridge-nf-call-iptables", false],
      ["net/bridge/bridge-nf-call-ip6tables", false],
      ["net/ipv4/conf/wvb-x/forwarding", true],
      ["net/ipv4/conf/wvb-y/forwarding", true],
    ],
  );
});
