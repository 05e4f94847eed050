/**
 * The worker's forwarding of relayed datagrams (#16) on real UDP sockets (loopback, no root):
 * what a relay forwards, unchanged but for one hop less, and what it refuses and counts when a
 * neighbour (or anyone at its address) sends what it must not carry.
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import dgram from "node:dgram";
import { parseIp } from "../../../config/mod.ts";
import { closeFd, libc } from "../sys/libc.ts";
import { openUdp } from "../sys/udp.ts";
import { counterIndex, G, GLOBAL_SLOT, newCounters } from "../counters.ts";
import { RELAY_HEADER_BYTES, writeRelayHeader } from "../wire.ts";
import type { WorkerPeer } from "./messages.ts";
import { PeerTable } from "./peer_table.ts";
import type { PathContext } from "./path.ts";
import { Relay } from "./relay.ts";

const SELF = 0x0c0c0c0c, A = 0x0a0a0a0a, B = 0x0b0b0b0b;

function peer(slot: number, relayId: number, port: number, relayFor = true): WorkerPeer {
  return {
    slot,
    name: `p${slot}`,
    address: parseIp("127.0.0.1")!,
    port,
    networks: [7],
    active: true,
    keepaliveMs: 0,
    relayId,
    via: null,
    relayFor,
    session: null,
  };
}

/** A relayed datagram for `dst` from `src`, with `hops` left and 40 bytes of sealed payload. */
function relayed(dst: number, src: number, hops = 4): Uint8Array {
  const d = new Uint8Array(RELAY_HEADER_BYTES + 40).fill(0x5a);
  writeRelayHeader(d, dst, src);
  d[1] = hops;
  return d;
}

async function world(
  fn: (w: {
    relay: Relay;
    peers: PeerTable;
    global: (field: number) => number;
    next: () => Promise<Uint8Array | null>;
  }) => void | Promise<void>,
) {
  const sink = dgram.createSocket("udp4");
  const inbox: Uint8Array[] = [];
  sink.on("message", (m: Uint8Array) => inbox.push(new Uint8Array(m)));
  await new Promise<void>((r) => sink.bind(0, "127.0.0.1", () => r()));
  const fd = openUdp(parseIp("127.0.0.1")!, 0);
  try {
    const counters = new Float64Array(newCounters());
    const peers = new PeerTable("noble");
    peers.setSelfId(SELF);
    peers.upsert(peer(0, A, 40000));
    peers.upsert(peer(1, B, sink.address().port));
    const ctx: PathContext = { c: libc(), udpFd: fd, counters, peers, tell: () => {} };
    const relay = new Relay(ctx);
    relay.forward = true;
    const next = async () => {
      for (let i = 0; i < 30 && inbox.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      return inbox.shift() ?? null;
    };
    await fn({
      relay,
      peers,
      global: (f) => counters[counterIndex(GLOBAL_SLOT, f)],
      next,
    });
  } finally {
    closeFd(fd);
    await new Promise<void>((r) => sink.close(() => r()));
  }
}

Deno.test("relay worker: forwards a datagram for b from a unchanged, one hop less, counted", async () => {
  await world(async ({ relay, peers, global, next }) => {
    const d = relayed(B, A);
    strictEqual(relay.handle(peers.get(0), d, 0, d.length), null);
    const got = await next();
    const want = d.slice();
    want[1] = 3;
    deepStrictEqual([...(got ?? [])], [...want]);
    deepStrictEqual([global(G.relayedPackets), global(G.relayedBytes)], [1, d.length]);
  });
});

Deno.test("relay worker: a datagram for this box is handed back as its source's", async () => {
  await world(({ relay, peers, global }) => {
    const d = relayed(SELF, B);
    strictEqual(relay.handle(peers.get(0), d, 0, d.length), peers.get(1));
    strictEqual(global(G.relayedPackets), 0);
    const unknown = relayed(SELF, 0x12345678);
    strictEqual(relay.handle(peers.get(0), unknown, 0, unknown.length), null);
    strictEqual(global(G.unknownPeer), 1);
  });
});

Deno.test("relay worker: refuses what it must not carry, sends nothing, counts it", async () => {
  await world(async ({ relay, peers, global, next }) => {
    const from = peers.get(0);
    const cases: [string, Uint8Array, () => void][] = [
      ["no hops left", relayed(B, A, 0), () => {}],
      ["back where it came from", relayed(A, B), () => {}],
      ["an unknown destination", relayed(0x12345678, A), () => {}],
      ["an unknown source", relayed(B, 0x12345678), () => {}],
      ["relay: false", relayed(B, A), () => relay.forward = false],
      ["b's relays: list", relayed(B, A), () => {
        relay.forward = true;
        peers.upsert(peer(1, B, 40001, false));
      }],
    ];
    let refused = 0;
    for (const [what, d, setup] of cases) {
      setup();
      strictEqual(relay.handle(from, d, 0, d.length), null, what);
      strictEqual(global(G.relayRefused), ++refused, what);
    }
    strictEqual(await next(), null, "nothing reached b");
    const short = relayed(B, A).subarray(0, RELAY_HEADER_BYTES + 10);
    relay.handle(from, short, 0, short.length);
    strictEqual(global(G.truncated), 1);
    strictEqual(global(G.relayedPackets), 0);
  });
});
