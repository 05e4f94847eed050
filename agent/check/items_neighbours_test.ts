import { deepStrictEqual, strictEqual } from "node:assert";
import { parseConfig } from "../../config/mod.ts";
import { neighbourEntriesNeeded, neighbourNeeds, neighbourTableItem } from "./items_neighbours.ts";

const DEFAULTS = { gcThresh1: 128, gcThresh2: 512, gcThresh3: 1024 };

Deno.test("neighbour table: entries needed are underlay peers plus other members per network", () => {
  strictEqual(neighbourEntriesNeeded(99, [100]), 198);
  strictEqual(neighbourEntriesNeeded(999, [1000, 300]), 999 + 999 + 299);
  strictEqual(neighbourEntriesNeeded(0, [1]), 0);
});

Deno.test("neighbour table: fits below gc_thresh2 is ok; more warns with the exact sysctl", () => {
  strictEqual(neighbourTableItem("ipv4", 198, DEFAULTS).status, "ok");
  const big = neighbourTableItem("ipv4", 2000, DEFAULTS);
  deepStrictEqual(
    { status: big.status, fix: big.fix },
    {
      status: "warning",
      fix:
        "sysctl -w net.ipv4.neigh.default.gc_thresh1=2256 net.ipv4.neigh.default.gc_thresh2=4512 " +
        "net.ipv4.neigh.default.gc_thresh3=9024 (and the same lines in /etc/sysctl.d/60-weave.conf " +
        "to keep them after a reboot)",
    },
  );
  // Limits already higher than asked are kept, never lowered.
  const raised = neighbourTableItem("ipv6", 2000, {
    gcThresh1: 5000,
    gcThresh2: 1000,
    gcThresh3: 99999,
  });
  strictEqual(
    raised.fix?.startsWith(
      "sysctl -w net.ipv6.neigh.default.gc_thresh1=5000 net.ipv6.neigh.default.gc_thresh2=4512 " +
        "net.ipv6.neigh.default.gc_thresh3=99999",
    ),
    true,
    raised.fix,
  );
});

Deno.test("neighbour table: a box's needs per family, from its config", () => {
  const peers = Array.from(
    { length: 40 },
    (_, i) => `  - name: p${i}\n    address: 192.0.2.${i + 1}`,
  );
  const r = parseConfig(
    [
      "version: 1",
      "peers:",
      ...peers,
      "  - name: v6\n    address: 2001:db8::1",
      "networks:",
      "  - name: a\n    subnet: 10.1.0.0/16",
      "  - name: b\n    subnet: fd00:1::/64",
      "  - name: c\n    subnet: 10.2.0.0/24\n    members:\n      p1:\n      p2:",
    ].join("\n") + "\n",
    "/x/weave.yaml",
  );
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  const self = r.config.peers[0];
  // p0: 39 v4 peers + 1 v6 peer; in a (41 members) and b (41); not in c.
  deepStrictEqual(neighbourNeeds(r.config, self), { ipv4: 39 + 40, ipv6: 1 + 40 });
});
