/**
 * Control-plane benchmarks over real loopback TCP:
 * - handshakes per second (header, HELLO, X25519, confirmations, agreement), one at a time and
 *   several in parallel;
 * - how long an N-peer full mesh of PeerConnections takes to converge, each peer on its own
 *   127.0.x.y address, for N = 3, 10, 30.
 *
 * Standalone: `deno run -A bench/handshake_bench.ts [--quick]`. `bench/main.ts` can call
 * `runHandshakeBench()` and use the numbers (or `formatHandshakeBench` for the table).
 *
 * @module
 */

import { FrameReader } from "../agent/control/frame_reader.ts";
import { agreeOnSession, runHandshake } from "../agent/control/handshake.ts";
import { Logger } from "../agent/ops/log.ts";
import { PeerConnections } from "../agent/control/peer_connections.ts";
import { DenoConnStream, dialTcp } from "../agent/control/tcp_stream.ts";

/** One mesh size's result. */
export interface MeshResult {
  peers: number;
  /** Pairs with a session on both sides at the end (of peers·(peers−1)/2). */
  sessions: number;
  expected: number;
  convergeMs: number;
  /** Confirmed connections closed as the twin of a simultaneous dial. */
  duplicates: number;
}

/** What `runHandshakeBench` measures. */
export interface HandshakeBenchResult {
  sequentialPerSecond: number;
  parallelPerSecond: number;
  parallelism: number;
  mesh: MeshResult[];
}

/** Options of the bench. */
export interface HandshakeBenchOptions {
  /** Handshakes per rate measurement (default 400). */
  handshakes?: number;
  /** Handshakes in flight for the parallel figure (default 8). */
  parallelism?: number;
  /** Mesh sizes (default 3, 10, 30). */
  meshSizes?: number[];
  /** Control port of the mesh peers (default: random in 21000–30999). */
  port?: number;
}

const PASSWORD = new TextEncoder().encode("bench password, long enough to pass 7781");

async function handshakeRate(count: number, parallel: number): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const serving = (async () => {
    const inFlight = new Set<Promise<void>>();
    for await (const conn of listener) {
      // As the agent's admission does: without it, Nagle and delayed ACKs held each handshake
      // about 40 ms, and the figures measured the stall, not the handshake.
      conn.setNoDelay(true);
      const s = new DenoConnStream(conn);
      const p = (async () => {
        const reader = new FrameReader(s);
        try {
          const hs = await runHandshake({
            stream: s,
            reader,
            role: "listener",
            localName: "bench-l",
            password: PASSWORD,
            remoteAddress: "127.0.0.1",
            admit: () => null,
          });
          await agreeOnSession(hs, { stream: s, reader, decider: false, remoteAddress: "x" });
        } finally {
          s.close();
        }
      })().catch(() => {});
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
    }
    await Promise.all(inFlight);
  })();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next++ < count) {
      const s = await dialTcp({ hostname: "127.0.0.1", port, timeoutMs: 5000 });
      const reader = new FrameReader(s);
      try {
        const hs = await runHandshake({
          stream: s,
          reader,
          role: "dialer",
          localName: "bench-d",
          password: PASSWORD,
          remoteAddress: "127.0.0.1",
          expectedPeer: "bench-l",
        });
        // "bench-d" < "bench-l": the dialer decides.
        await agreeOnSession(hs, { stream: s, reader, decider: true, remoteAddress: "x" });
      } finally {
        s.close();
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  listener.close();
  await serving;
  return count / seconds;
}

async function meshConvergence(size: number, port: number, net: number): Promise<MeshResult> {
  const addr = (i: number) => `127.${net}.${i >> 8}.${(i & 255) + 1}`;
  const names = Array.from({ length: size }, (_, i) => `p${String(i).padStart(2, "0")}`);
  const up = new Set<string>();
  const want = size * (size - 1);
  const done = Promise.withResolvers<void>();
  const pcs = names.map((name, i) => {
    const pc = new PeerConnections({
      localName: name,
      listenAddress: addr(i),
      listenPort: port,
      peers: names.flatMap((x, j) => x === name ? [] : [{ name: x, address: addr(j), port }]),
      password: PASSWORD,
      logger: new Logger(name, "error", "text", () => {}),
      onSessionUp: ({ peer }) => {
        up.add(`${name}>${peer}`);
        if (up.size === want) done.resolve();
      },
      onSessionDown: ({ peer }) => up.delete(`${name}>${peer}`),
    });
    return pc;
  });
  const t0 = performance.now();
  for (const pc of pcs) pc.start();
  const timeout = setTimeout(() => done.resolve(), 60_000);
  await done.promise;
  clearTimeout(timeout);
  const convergeMs = performance.now() - t0;
  let sessions = 0;
  for (let i = 0; i < size; i++) {
    for (let j = i + 1; j < size; j++) {
      if (up.has(`${names[i]}>${names[j]}`) && up.has(`${names[j]}>${names[i]}`)) sessions++;
    }
  }
  const duplicates = pcs.reduce((a, pc) => a + pc.status().duplicatesClosed, 0);
  await Promise.all(pcs.map((pc) => pc.close()));
  return { peers: size, sessions, expected: size * (size - 1) / 2, convergeMs, duplicates };
}

/** Runs the control-plane benchmarks and returns the numbers. */
export async function runHandshakeBench(
  o: HandshakeBenchOptions = {},
): Promise<HandshakeBenchResult> {
  const count = o.handshakes ?? 400;
  const parallelism = o.parallelism ?? 8;
  const port = o.port ?? 21000 + Math.floor(Math.random() * 10000);
  const sequentialPerSecond = await handshakeRate(count, 1);
  const parallelPerSecond = await handshakeRate(count, parallelism);
  const mesh: MeshResult[] = [];
  for (const [k, size] of (o.meshSizes ?? [3, 10, 30]).entries()) {
    // Each size on its own 127.x network, so lingering sockets of the last size cannot interfere.
    mesh.push(await meshConvergence(size, port, 10 + k));
  }
  return { sequentialPerSecond, parallelPerSecond, parallelism, mesh };
}

/** The results as a small Markdown table. */
export function formatHandshakeBench(r: HandshakeBenchResult): string {
  return [
    `| handshakes/s, sequential | handshakes/s, ${r.parallelism} in parallel |`,
    "|---:|---:|",
    `| ${r.sequentialPerSecond.toFixed(0)} | ${r.parallelPerSecond.toFixed(0)} |`,
    "",
    "| peers | sessions | converge ms | duplicate connections closed |",
    "|---:|---:|---:|---:|",
    ...r.mesh.map((m) =>
      `| ${m.peers} | ${m.sessions}/${m.expected} | ${m.convergeMs.toFixed(0)} | ${m.duplicates} |`
    ),
  ].join("\n");
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  console.log(formatHandshakeBench(await runHandshakeBench({ handshakes: quick ? 100 : 400 })));
}
