/**
 * The kernel agrees with datapath/mtu.ts: a VXLAN device over a 1500-byte link defaults to
 * vxlanMtu(). (Moved here from datapath/mtu_test.ts: it needs root and a namespace.)
 */

import { strictEqual } from "node:assert";
import { Lab } from "./lab/lab.ts";
import { LAB } from "./lab/gate.ts";
import { vxlanMtu } from "../datapath/mtu.ts";

Deno.test(
  "mtu: a kernel VXLAN device over a 1500-byte link defaults to vxlanMtu()",
  LAB,
  async () => {
    await using lab = await Lab.create({ hosts: 1, underlayMtu: 1500 });
    const h = lab.hosts[0];
    await lab.exec(h, [
      "ip",
      "link",
      "add",
      "vx0",
      "type",
      "vxlan",
      "id",
      "5",
      "dstport",
      "4789",
      "local",
      h.address,
      "dev",
      h.link,
    ], { check: true });
    const [link] = JSON.parse((await lab.exec(h, ["ip", "-json", "link", "show", "vx0"])).stdout);
    strictEqual(link.mtu, vxlanMtu(1500, 4));
  },
);
