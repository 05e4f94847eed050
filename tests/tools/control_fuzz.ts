/**
 * Throws malformed input at an agent's control port: random bytes, truncated and corrupted
 * protocol headers, huge length prefixes, slow writers, resets. Bounded in count and time.
 *
 *   deno run -A tests/tools/control_fuzz.ts ADDRESS PORT COUNT
 *
 * Prints "sent N" at the end. Exits 0 unless it could not connect at all.
 *
 * @module
 */

const [hostname, portText, countText] = Deno.args;
const port = Number(portText);
const total = Number(countText ?? 1000);
const deadline = Date.now() + 90_000;

const header = new TextEncoder().encode("weave-agent\0");
function rnd(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function payload(i: number): Uint8Array {
  switch (i % 7) {
    case 0:
      return rnd(1 + (i % 300));
    case 1:
      return header.slice(0, 1 + (i % header.length)); // truncated magic
    case 2: {
      const b = new Uint8Array(header.length + 4 + 40);
      b.set(header);
      b.set(rnd(44), header.length); // right magic, garbage after
      return b;
    }
    case 3:
      return new Uint8Array([0xff, 0xff, 0xff, 0xff, ...rnd(16)]); // huge length prefix
    case 4: {
      const b = new Uint8Array(header.length + 4);
      b.set(header);
      b.set([0, 99, 0, 99], header.length); // versions nobody speaks
      return b;
    }
    case 5:
      return new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    default:
      return new Uint8Array(0); // connect and close
  }
}

let sent = 0, refused = 0;
const slow: Deno.Conn[] = [];
async function one(i: number) {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname, port });
  } catch {
    refused++;
    return;
  }
  try {
    if (i % 97 === 0 && slow.length < 20) {
      // Slow-loris: one byte, then hold the connection open.
      await conn.write(header.slice(0, 1));
      slow.push(conn);
      sent++;
      return;
    }
    const p = payload(i);
    if (p.length) await conn.write(p).catch(() => 0);
    sent++;
  } finally {
    if (!slow.includes(conn)) {
      try {
        conn.close();
      } catch { /* closed by the peer */ }
    }
  }
}

for (let i = 0; i < total && Date.now() < deadline; i += 20) {
  await Promise.all(Array.from({ length: Math.min(20, total - i) }, (_, k) => one(i + k)));
}
await new Promise((r) => setTimeout(r, 500));
for (const c of slow) {
  try {
    c.close();
  } catch { /* closed by the peer's timeout */ }
}
console.log(`sent ${sent} refused ${refused}`);
Deno.exit(sent > 0 ? 0 : 1);
