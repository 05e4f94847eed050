/**
 * A known-content TCP transfer for the lab and the demo, runnable inside a namespace:
 *
 *   deno run -A tests/tools/tcp_transfer.ts listen ADDR PORT       prints "<bytes> <sha256>"
 *   deno run -A tests/tools/tcp_transfer.ts send ADDR PORT FILE    sends FILE, prints "<bytes> <sha256>"
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

const [mode, hostname, portText, file] = Deno.args;
const port = Number(portText);
if (!["listen", "send"].includes(mode) || !hostname || !Number.isInteger(port)) {
  console.error("usage: tcp_transfer.ts listen ADDR PORT | send ADDR PORT FILE");
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
  while (off < data.length) off += await conn.write(data.subarray(off));
  conn.close();
  console.log(`${data.length} ${hex(sha256(data))}`);
}
