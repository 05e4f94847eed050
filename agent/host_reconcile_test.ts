import { strictEqual } from "node:assert";
import { planText } from "./host_reconcile.ts";

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
