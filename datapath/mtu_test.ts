import { ok, strictEqual } from "node:assert";
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
      const fits = ip + 8 + 8 + padded(m) + 16, oneMore = ip + 8 + 8 + padded(m + 1) + 16;
      ok(fits <= under, `IPv${family} underlay ${under}: MTU ${m} needs ${fits} bytes`);
      ok(oneMore > under, `IPv${family} underlay ${under}: MTU ${m + 1} still fits (${oneMore})`);
    }
  }
});

Deno.test("sleeve: IP + UDP + 12-byte relay header + 16-byte header + 16-byte tag + Ethernet", () => {
  strictEqual(sleeveMtu(1500, 4), 1500 - 20 - 8 - 12 - 16 - 16 - 14);
  strictEqual(sleeveMtu(1500, 6), 1500 - 40 - 8 - 12 - 16 - 16 - 14);
});

Deno.test("network MTU is the smallest of the datapaths a pair may use", () => {
  strictEqual(
    networkMtu({ underlayMtu: 1500, family: 4, encrypted: true, datapath: "auto" }),
    1414,
  );
  strictEqual(
    networkMtu({ underlayMtu: 1500, family: 4, encrypted: false, datapath: "auto" }),
    1414,
  );
  strictEqual(
    networkMtu({ underlayMtu: 1500, family: 4, encrypted: false, datapath: "fastdp" }),
    1450,
  );
  strictEqual(
    networkMtu({ underlayMtu: 1500, family: 4, encrypted: true, datapath: "sleeve" }),
    1414,
  );
});
