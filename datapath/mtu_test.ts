import { strictEqual } from "node:assert";
import { networkMtu, sleeveMtu, vxlanEspMtu, vxlanMtu } from "./mtu.ts";

Deno.test("VXLAN overhead matches the IPv4/IPv6 figures of RFC 7348", () => {
  strictEqual(vxlanMtu(1500, 4), 1450);
  strictEqual(vxlanMtu(1500, 6), 1430);
});

Deno.test("ESP transport around VXLAN: largest frame whose padded ESP payload fits", () => {
  // 1500 - 20 IP - 8 ESP hdr - 8 IV - 16 ICV = 1448 for the padded payload;
  // payload = 8 UDP + 8 VXLAN + 14 Ethernet + M + 2 trailer <= 1448 -> M = 1416.
  strictEqual(vxlanEspMtu(1500, 4), 1416);
  // 1501: room 1449 -> padded max 1448 -> still 1416 (padding to 4 eats the extra byte).
  strictEqual(vxlanEspMtu(1501, 4), 1416);
  strictEqual(vxlanEspMtu(1504, 4), 1420);
  strictEqual(vxlanEspMtu(1500, 6), 1396);
  // Every M up to the answer pads into the room; M + 1 does not.
  for (const family of [4, 6] as const) {
    for (let under = 1280; under <= 9000; under += 37) {
      const m = vxlanEspMtu(under, family);
      const ip = family === 4 ? 20 : 40;
      const padded = (x: number) => Math.ceil((8 + 8 + 14 + x + 2) / 4) * 4;
      strictEqual(ip + 8 + 8 + padded(m) + 16 <= under, true);
      strictEqual(ip + 8 + 8 + padded(m + 1) + 16 > under, true);
    }
  }
});

Deno.test("sleeve: IP + UDP + 16-byte header + 16-byte tag + inner Ethernet", () => {
  strictEqual(sleeveMtu(1500, 4), 1500 - 20 - 8 - 16 - 16 - 14);
  strictEqual(sleeveMtu(1500, 6), 1500 - 40 - 8 - 16 - 16 - 14);
});

Deno.test("network MTU is the smallest of the datapaths a pair may use", () => {
  strictEqual(
    networkMtu({ underlayMtu: 1500, family: 4, encrypted: true, datapath: "auto" }),
    1416,
  );
  strictEqual(
    networkMtu({ underlayMtu: 1500, family: 4, encrypted: false, datapath: "auto" }),
    1426,
  );
  strictEqual(
    networkMtu({ underlayMtu: 1500, family: 4, encrypted: false, datapath: "fastdp" }),
    1450,
  );
  strictEqual(
    networkMtu({ underlayMtu: 1500, family: 4, encrypted: true, datapath: "sleeve" }),
    1426,
  );
});

Deno.test({
  name: "the kernel agrees: a VXLAN device over a 1500-byte link defaults to vxlanMtu()",
  ignore: Deno.uid() !== 0,
  async fn() {
    const ns = `wvmtu${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
    const ip = (...args: string[]) =>
      new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
    try {
      strictEqual((await ip("netns", "add", ns)).success, true);
      await ip("-n", ns, "link", "add", "u0", "type", "veth", "peer", "name", "u1");
      await ip("-n", ns, "link", "set", "u0", "mtu", "1500", "up");
      await ip("-n", ns, "addr", "add", "10.9.0.1/24", "dev", "u0");
      const add = await ip(
        "-n",
        ns,
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
        "10.9.0.1",
        "dev",
        "u0",
      );
      strictEqual(add.success, true, new TextDecoder().decode(add.stderr));
      const show = await ip("-n", ns, "-json", "link", "show", "vx0");
      const [link] = JSON.parse(new TextDecoder().decode(show.stdout));
      strictEqual(link.mtu, vxlanMtu(1500, 4));
    } finally {
      await ip("netns", "del", ns);
    }
  },
});
