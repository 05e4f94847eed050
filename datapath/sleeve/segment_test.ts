import { strictEqual } from "node:assert";
import { completeChecksum, GSO_TCPV4, segmentTcp, tcpChecksumStart } from "./segment.ts";

/** One's-complement sum over 16-bit words, written plainly (the property every checksum meets). */
function onesSum(bytes: number[]): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i] << 8) + (bytes[i + 1] ?? 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return s;
}

function tcpValid(f: Uint8Array, len: number): boolean {
  const tcpLen = len - 34;
  const pseudo = [...f.subarray(26, 34), 0, 6, tcpLen >> 8, tcpLen & 255];
  return onesSum([...pseudo, ...f.subarray(34, len)]) === 0xffff;
}

function superFrame(payload: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + payload);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  f.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  const tot = 40 + payload;
  f[16] = tot >> 8;
  f[17] = tot & 255;
  f.set([0x1f, 0x90, 0xc3, 0x50, 0xff, 0xff, 0xff, 0x00, 0, 0, 0, 9, 5 << 4, 0x19, 0x01, 0], 34);
  for (let i = 0; i < payload; i++) f[54 + i] = (i * 7) & 255;
  return f;
}

Deno.test("TSO super-frame: segments of mss bytes, valid IP and TCP checksums, seq and flags right", () => {
  const mss = 1000, payload = 4500;
  const f = superFrame(payload);
  const seg = new Uint8Array(2000);
  const out: Uint8Array[] = [];
  const n = segmentTcp(f, f.length, GSO_TCPV4, mss, seg, (s, l) => out.push(s.slice(0, l)));
  strictEqual(n, 5);
  let seen = 0;
  out.forEach((s, i) => {
    const chunk = Math.min(mss, payload - i * mss);
    strictEqual(s.length, 54 + chunk);
    strictEqual(onesSum([...s.subarray(14, 34)]), 0xffff, `IP checksum of segment ${i}`);
    strictEqual(tcpValid(s, s.length), true, `TCP checksum of segment ${i}`);
    strictEqual((s[18] << 8) | s[19], (0x1234 + i) & 0xffff, "IP id");
    strictEqual(new DataView(s.buffer).getUint32(38), (0xffffff00 + i * mss) >>> 0, "seq wraps");
    strictEqual(s[47], i === 4 ? 0x19 : 0x10, "FIN/PSH only on the last");
    for (let k = 0; k < chunk; k++) strictEqual(s[54 + k], ((seen + k) * 7) & 255);
    seen += chunk;
  });
  strictEqual(seen, payload);
  strictEqual(segmentTcp(f, f.length, 5, mss, seg, () => {}), -1, "UDP GSO is not ours");
});

Deno.test("partial checksum completion gives a valid TCP checksum", () => {
  const f = superFrame(333);
  // As the kernel leaves it: the field holds the (folded, not inverted) pseudo-header sum.
  const tcpLen = 20 + 333;
  const pseudo = onesSum([...f.subarray(26, 34), 0, 6, tcpLen >> 8, tcpLen & 255]);
  f[50] = pseudo >> 8;
  f[51] = pseudo & 255;
  strictEqual(completeChecksum(f, f.length, 34, 16), true);
  strictEqual(tcpValid(f, f.length), true);
  strictEqual(completeChecksum(f, 40, 34, 16), false, "field outside the frame");
});

Deno.test("partial mode: each segment carries the pseudo-header sum, and completes to valid", () => {
  const mss = 1000, payload = 2500;
  const f = superFrame(payload);
  const seg = new Uint8Array(2000);
  const out: Uint8Array[] = [];
  segmentTcp(f, f.length, GSO_TCPV4, mss, seg, (s, l) => out.push(s.slice(0, l)), true);
  strictEqual(out.length, 3);
  for (const s of out) {
    const tcpLen = s.length - 34;
    const pseudo = onesSum([...s.subarray(26, 34), 0, 6, tcpLen >> 8, tcpLen & 255]);
    strictEqual((s[50] << 8) | s[51], pseudo, "field holds the pseudo-header sum");
    strictEqual(onesSum([...s.subarray(14, 34)]), 0xffff, "IP checksum still complete");
    strictEqual(tcpValid(s, s.length), false, "not a complete checksum yet");
    // What the receiving kernel does with NEEDS_CSUM at csum_start 34, offset 16.
    strictEqual(completeChecksum(s, s.length, tcpChecksumStart(s, s.length), 16), true);
    strictEqual(tcpValid(s, s.length), true);
  }
});

Deno.test("tcpChecksumStart: IPv4 with and without options, IPv6, and what is not TCP", () => {
  const v4 = superFrame(10);
  strictEqual(tcpChecksumStart(v4, v4.length), 34);
  const opts = superFrame(10);
  opts[14] = 0x46; // 24-byte IP header
  strictEqual(tcpChecksumStart(opts, opts.length), 38);
  const v6 = new Uint8Array(14 + 40 + 20);
  v6[12] = 0x86;
  v6[13] = 0xdd;
  v6[14] = 0x60;
  v6[20] = 6;
  strictEqual(tcpChecksumStart(v6, v6.length), 54);
  v6[20] = 17;
  strictEqual(tcpChecksumStart(v6, v6.length), -1, "UDP");
  const udp = superFrame(10);
  udp[23] = 17;
  strictEqual(tcpChecksumStart(udp, udp.length), -1);
  strictEqual(tcpChecksumStart(v4, 40), -1, "truncated");
});
