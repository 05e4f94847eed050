import { deepStrictEqual, strictEqual } from "node:assert";
import { Coalescer, ipv4HeaderChecksum, VNET_HDR_BYTES } from "./coalesce.ts";

/** An Ethernet/IPv4/TCP segment with timestamps-sized options (32-byte TCP header). */
function segment(seq: number, payload: number, flags = 0x10, id = 1): Uint8Array {
  const f = new Uint8Array(14 + 20 + 32 + payload);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const ip = 14;
  f.set([0x45, 0, 0, 0, id >> 8, id & 255, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], ip);
  const tot = 20 + 32 + payload;
  f[ip + 2] = tot >> 8;
  f[ip + 3] = tot & 255;
  const c = ipv4HeaderChecksum(f, ip);
  f[ip + 10] = c >> 8;
  f[ip + 11] = c & 255;
  const t = ip + 20;
  f.set([0x1f, 0x90, 0xc3, 0x50], t);
  new DataView(f.buffer).setUint32(t + 4, seq);
  new DataView(f.buffer).setUint32(t + 8, 777);
  f[t + 12] = 8 << 4;
  f[t + 13] = flags;
  f[t + 14] = 0x01;
  f.set([1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7], t + 20);
  for (let i = 0; i < payload; i++) f[t + 32 + i] = (seq + i) & 255;
  return f;
}

function collect() {
  const writes: { fd: number; data: Uint8Array }[] = [];
  const c = new Coalescer((fd, buf, len) => writes.push({ fd, data: buf.slice(0, len) }));
  return { c, writes };
}

Deno.test("consecutive segments of one flow become one GSO super-frame", () => {
  const { c, writes } = collect();
  const mss = 1400;
  for (let i = 0; i < 5; i++) {
    c.add(3, segment(1000 + i * mss, mss, i === 4 ? 0x18 : 0x10, 10 + i), 14 + 52 + mss);
  }
  c.flush();
  strictEqual(writes.length, 1);
  const w = writes[0].data;
  const v = new DataView(w.buffer);
  deepStrictEqual([w[0], w[1]], [1, 1], "NEEDS_CSUM, GSO_TCPV4");
  strictEqual(v.getUint16(2, true), 14 + 20 + 32);
  strictEqual(v.getUint16(4, true), mss);
  deepStrictEqual([v.getUint16(6, true), v.getUint16(8, true)], [34, 16]);
  const ip = VNET_HDR_BYTES + 14;
  strictEqual(v.getUint16(ip + 2), 20 + 32 + 5 * mss);
  strictEqual(v.getUint16(ip + 10), ipv4HeaderChecksum(w, ip), "IP checksum valid");
  strictEqual(w[ip + 20 + 13], 0x18, "PSH of the last segment kept");
  // Payload contiguous: byte k is (1000 + k) & 255.
  const pay = w.subarray(ip + 52);
  strictEqual(pay.length, 5 * mss);
  strictEqual(pay.every((b, k) => b === ((1000 + k) & 255)), true);
  strictEqual(c.merged, 1);
});

Deno.test("gaps, other flags, other flows and short segments are not merged", () => {
  const { c, writes } = collect();
  c.add(3, segment(0, 100), 166);
  c.add(3, segment(200, 100), 166); // gap
  c.add(3, segment(300, 100, 0x11), 166); // FIN
  c.add(4, segment(400, 100), 166); // other TAP
  c.add(4, segment(500, 50), 116); // contiguous but short: merges, and closes the run
  c.add(4, segment(550, 50), 116);
  c.flush();
  strictEqual(writes.length, 5);
  strictEqual(writes.map((w) => w.data[1]).join(","), "0,0,0,1,0");
  const arp = new Uint8Array(60).fill(0xff);
  arp[12] = 0x08;
  arp[13] = 0x06;
  c.add(3, arp, 60);
  c.flush();
  strictEqual(writes.at(-1)!.data.length, VNET_HDR_BYTES + 60);
  strictEqual(writes.at(-1)!.data.subarray(0, VNET_HDR_BYTES).every((b) => b === 0), true);
});

Deno.test("a lone segment with a partial checksum is written with NEEDS_CSUM, not GSO", () => {
  const { c, writes } = collect();
  c.add(3, segment(0, 100), 166, 34);
  c.add(3, segment(1000, 100), 166); // not contiguous: a separate, complete frame
  c.flush();
  strictEqual(writes.length, 2);
  const v = new DataView(writes[0].data.buffer);
  deepStrictEqual([writes[0].data[0], writes[0].data[1]], [1, 0], "NEEDS_CSUM, no GSO");
  deepStrictEqual([v.getUint16(6, true), v.getUint16(8, true)], [34, 16]);
  strictEqual(writes[1].data.subarray(0, VNET_HDR_BYTES).every((b) => b === 0), true);
});
