/** Bounded buffered reads over real loopback TCP: chunking, bounds, truncation, clean EOF. */

import { deepStrictEqual, ok as assert, rejects, strictEqual } from "node:assert";
import { FrameReader } from "./frame_reader.ts";
import { WireError } from "./wire_error.ts";

/** A connected loopback pair; the writer side is driven by the test. */
async function loopback(): Promise<{ client: Deno.TcpConn; server: Deno.TcpConn; close(): void }> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port }),
    l.accept(),
  ]);
  l.close();
  return {
    client,
    server,
    close() {
      for (const c of [client, server]) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

const reason = (r: string) => (e: unknown) => e instanceof WireError && e.reason === r;

Deno.test("frame reader: frames split across many writes and many frames in one write", async () => {
  const p = await loopback();
  try {
    const r = new FrameReader(p.server, 1024);
    const frames = [new Uint8Array(300).fill(1), new Uint8Array(0), new Uint8Array(1000).fill(7)];
    const wire = frames.flatMap((f) => {
      const h = new Uint8Array(4);
      new DataView(h.buffer).setUint32(0, f.length);
      return [...h, ...f];
    });
    const bytes = new Uint8Array(wire);
    // Byte by byte for the first frame, the rest at once.
    for (let i = 0; i < 304; i++) await p.client.write(bytes.subarray(i, i + 1));
    await p.client.write(bytes.subarray(304));
    for (const f of frames) deepStrictEqual(await r.frame(1020), f);
    p.client.closeWrite();
    strictEqual(await r.frame(1020), null); // clean end between frames
  } finally {
    p.close();
  }
});

Deno.test("frame reader: oversize prefixes, truncation and peek", async () => {
  const p = await loopback();
  try {
    const r = new FrameReader(p.server, 1024);
    await p.client.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    await rejects(r.frame(1020), reason("oversize"));
    await rejects(r.exact(2048), reason("oversize"));
    await p.client.write(new Uint8Array([0, 0, 0, 2, 9]));
    deepStrictEqual(await r.peek(3), new Uint8Array([0, 0, 0]));
    assert(r.buffered >= 3, `buffered=${r.buffered}`);
    await rejects(r.frame(1020, 16), reason("garbage")); // below the minimum length
  } finally {
    p.close();
  }
  const q = await loopback();
  try {
    const r = new FrameReader(q.server, 1024);
    await q.client.write(new Uint8Array([0, 0, 0, 9, 1, 2]));
    q.client.closeWrite();
    await rejects(r.frame(1020), reason("truncated"));
  } finally {
    q.close();
  }
});
