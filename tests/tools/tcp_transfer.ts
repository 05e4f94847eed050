/**
 * A known-content TCP transfer for the lab and the demo, runnable inside a namespace:
 *
 *   deno run -A tests/tools/tcp_transfer.ts listen ADDR PORT       prints "<bytes> <sha256>"
 *   deno run -A tests/tools/tcp_transfer.ts send ADDR PORT FILE [BYTES_PER_SECOND]
 *                                          sends FILE (paced when a rate is given, in 16 KiB
 *                                          writes), prints "<bytes> <sha256>"
 *
 * The receiver exits after one connection; both print size and SHA-256 so the caller can
 * compare what was sent with what arrived.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const [mode, hostname, portText, file, rateText] = Deno.args;
const rate = rateText === undefined ? Infinity : Number(rateText);
const port = Number(portText);
if (!["listen", "send"].includes(mode) || !hostname || !Number.isInteger(port) || !(rate > 0)) {
  console.error("usage: tcp_transfer.ts listen ADDR PORT | send ADDR PORT FILE [BYTES_PER_SECOND]");
  Deno.exit(2);
}

if (mode === "listen") {
  const listener = Deno.listen({ hostname, port });
  console.error("listening");
  const conn = await listener.accept();
  const hash = sha256.create();
  let total = 0;
  const buf = new Uint8Array(1 << 16);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
    total += n;
  }
  conn.close();
  listener.close();
  console.log(`${total} ${hex(hash.digest())}`);
} else {
  const data = await Deno.readFile(file);
  let conn: Deno.TcpConn | undefined;
  for (let i = 0; i < 50 && !conn; i++) {
    try {
      conn = await Deno.connect({ hostname, port });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!conn) {
    console.error(`cannot connect to ${hostname}:${port}`);
    Deno.exit(1);
  }
  let off = 0;
  const start = performance.now();
  const chunk = Number.isFinite(rate) ? 1 << 14 : data.length;
  while (off < data.length) {
    off += await conn.write(data.subarray(off, Math.min(data.length, off + chunk)));
    const wait = start + (off / rate) * 1000 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  conn.close();
  console.log(`${data.length} ${hex(sha256(data))}`);
}
