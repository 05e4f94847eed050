/**
 * VXLAN heartbeat acks (#14): the sender counts an ack only for a heartbeat it sent recently and
 * has not seen answered; the receiver acks each nonce once, rate-limited. Then the attacker on
 * the underlay: it captures heartbeat datagrams while the path works, the path dies, and it
 * replays what it captured (and holds fresh ones back to deliver late) — the pair must still
 * fall back to the sleeve within the same bound as without the attacker.
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import type { Network, Peer } from "../config/types.ts";
import type { SessionSecrets } from "./control/mod.ts";
import type { Clock } from "./clock.ts";
import { Logger } from "./ops/log.ts";
import { PAIR_TIMING, PairDatapaths } from "./pair_datapath.ts";
import { ACK_BURST, HeartbeatAcks, PendingHeartbeats } from "./vxlan_heartbeat.ts";

Deno.test("heartbeat acks: a pending heartbeat is answered once, and only while young", () => {
  const p = new PendingHeartbeats(8000, 4);
  p.add("a", 1000);
  p.add("b", 2000);
  deepStrictEqual([p.take("a", 3000), p.take("a", 3001)], [1000, null]); // once
  deepStrictEqual(p.take("never-sent", 3000), null); // forged
  deepStrictEqual(p.take("b", 10_001), null); // 8001 ms old: proves nothing now
  for (const n of ["c", "d", "e", "f", "g"]) p.add(n, 20_000);
  deepStrictEqual([p.size, p.take("c", 20_000), p.take("g", 20_000)], [4, null, 20_000]); // bounded
  strictEqual(p.refused, 4);
});

Deno.test("heartbeat acks: the receiver acks each nonce once and at most a burst a second", () => {
  const acks = new HeartbeatAcks();
  deepStrictEqual([acks.admit("edge-2", "n1", 0), acks.admit("edge-2", "n1", 1)], [true, false]);
  let admitted = 1;
  for (let i = 0; i < 100; i++) if (acks.admit("edge-2", `x${i}`, 10)) admitted++;
  strictEqual(admitted, ACK_BURST, `admitted=${admitted}`);
  // Another peer has its own budget; the next window a fresh one.
  strictEqual(acks.admit("edge-3", "x0", 10), true);
  strictEqual(acks.admit("edge-2", "y", 1010), true);
  // A replay of an acked nonce stays refused in later windows too.
  strictEqual(acks.admit("edge-2", "n1", 5000), false);
});

/** A clock that moves only when told; timers in time order. */
class ManualClock implements Clock {
  t = 1_000_000;
  #timers: { at: number; seq: number; fn: () => void }[] = [];
  #seq = 0;
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((x) => x !== timer);
    };
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    while (true) {
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers[0];
      if (!next || next.at > end) break;
      this.#timers.shift();
      this.t = next.at;
      next.fn();
      for (let i = 0; i < 4; i++) await Promise.resolve();
    }
    this.t = end;
  }
}

const NET: Network = {
  name: "net1",
  subnet: "10.40.0.0/24",
  family: 4,
  prefixLength: 24,
  vni: 100,
  vniDerived: true,
  members: [
    { peer: "edge-1", address: "10.40.0.1", derived: true },
    { peer: "edge-2", address: "10.40.0.2", derived: true },
  ],
  labels: { "kubernetes.io/metadata.name": "net1" },
};

function secrets(id: number): SessionSecrets {
  const dir = (spi: number) => ({
    control: new Uint8Array(32),
    sleeve: new Uint8Array(32),
    esp: { key: new Uint8Array(36), spi },
  });
  return {
    sessionKey: new Uint8Array(32),
    dialerNonce: new Uint8Array(32),
    listenerNonce: new Uint8Array(32),
    localIsDialer: id === 1,
    authenticated: true,
    id,
    keys: {
      dialerToListener: dir(256),
      listenerToDialer: dir(257),
      dialerIndex: 1,
      listenerIndex: 2,
    },
    transcriptHash: new Uint8Array(32),
    password: "current",
    peerProvedKey: false,
  };
}

/**
 * Two boxes on a fake session and a fake VXLAN path, with an attacker on that path: it sees
 * every heartbeat datagram (`captured`), may drop them (`pathUp` false) and may deliver any
 * captured one, at any time, to its receiver.
 */
function world() {
  const clock = new ManualClock();
  const boxes = new Map<string, PairDatapaths>();
  const acks: Record<string, number> = { "edge-1": 0, "edge-2": 0 };
  const captured: { to: string; from: string; nonce: string }[] = [];
  /** Heartbeats the attacker kept from their receiver while the path worked, to use later. */
  const held: { to: string; from: string; nonce: string }[] = [];
  const path = { up: true, holdEveryOther: false, sent: 0 };
  const make = (name: string, other: string, i: number) => {
    const pairs = new PairDatapaths({
      localName: name,
      clock,
      firstIndex: 100 * (i + 1),
      log: new Logger(name, "error", "text", () => {}),
      effects: {
        send(to, msg) {
          if (msg.type === "hb-ack") acks[name]++;
          clock.after(1, () => boxes.get(to)!.message(name, msg));
          return true;
        },
        heartbeat(from) {
          const nonce = crypto.randomUUID();
          captured.push({ to: other, from, nonce });
          if (path.up && path.holdEveryOther && path.sent++ % 2 === 0) {
            held.push({ to: other, from, nonce });
          } else if (path.up) clock.after(1, () => boxes.get(other)!.heartbeatFrom(from, nonce));
          return Promise.resolve(nonce);
        },
        sleeveChanged() {},
        hostChanged() {},
      },
    });
    pairs.configure({
      capability: { capable: true, reason: "test" },
      networks: [NET],
      aead: "aes-256-gcm",
    });
    const p: Peer = {
      name: other,
      address: `192.0.2.${2 - i}`,
      family: 4,
      port: 6784,
      index: 1 - i,
      endpoint: { kind: "ip", ip: `192.0.2.${2 - i}`, family: 4, port: 6784 },
      key: null,
    };
    pairs.setPeers([p]);
    pairs.start();
    boxes.set(name, pairs);
    return pairs;
  };
  const a = make("edge-1", "edge-2", 0), b = make("edge-2", "edge-1", 1);
  const datapath = (p: PairDatapaths) => p.pairs()[0].datapath;
  const up = async () => {
    a.sessionUp("edge-2", secrets(1));
    b.sessionUp("edge-1", secrets(2));
    await clock.advance(PAIR_TIMING.tickMs + 10);
  };
  const replay = (c: { to: string; from: string; nonce: string }) =>
    boxes.get(c.to)!.heartbeatFrom(c.from, c.nonce);
  return { clock, a, b, datapath, up, path, captured, held, acks, replay };
}

/** How long after the path dies the pair leaves fast datapath, with `attack` run every tick. */
async function timeToFallback(
  attack: (w: ReturnType<typeof world>) => void,
  holdEveryOther = false,
) {
  const w = world();
  await w.up();
  w.path.holdEveryOther = holdEveryOther;
  strictEqual(w.datapath(w.a), "fastdp");
  await w.clock.advance(3 * PAIR_TIMING.fastdpHeartbeatMs); // the attacker captures a few
  w.path.up = false;
  const diedAt = w.clock.now();
  while (w.datapath(w.a) === "fastdp" && w.clock.now() - diedAt < 10 * PAIR_TIMING.fastdpDeadMs) {
    attack(w);
    await w.clock.advance(PAIR_TIMING.tickMs);
  }
  return { took: w.clock.now() - diedAt, w };
}

Deno.test("heartbeat acks: replayed and held-back heartbeats do not keep a dead path alive", async () => {
  const bound = PAIR_TIMING.fastdpDeadMs + PAIR_TIMING.fastdpHeartbeatMs + 2 * PAIR_TIMING.tickMs;
  // Control: no attacker.
  const quiet = await timeToFallback(() => {});
  // Attacker 1: replays every heartbeat captured while the path worked, every tick.
  const replayed = await timeToFallback((w) => {
    for (const c of w.captured.slice(0, 6)) w.replay(c);
  });
  // Attacker 2: while the path works it keeps every other heartbeat from its receiver (the
  // path still looks fine: half of them arrive); once the path is dead it delivers those it
  // kept, one a tick, so that each is still unanswered at its sender.
  const held = await timeToFallback((w) => {
    const c = w.held.shift();
    if (c) w.replay(c);
  }, true);
  for (const [what, r] of [["no attacker", quiet], ["replays", replayed]] as const) {
    strictEqual(r.w.datapath(r.w.a), "sleeve", what);
    strictEqual(r.took <= bound, true, `${what}: took=${r.took} bound=${bound}`);
  }
  // Replays were refused by the receiver (each nonce acked once): the acks sent stay those of
  // the heartbeats that really arrived.
  strictEqual(replayed.w.acks["edge-2"], quiet.w.acks["edge-2"], JSON.stringify(replayed.w.acks));
  // Held-back heartbeats delivered late prove at most that the path worked when they were
  // sent, and not at all once older than the dead-path window: the same bound holds.
  strictEqual(held.w.datapath(held.w.a), "sleeve");
  strictEqual(held.took <= bound, true, `held: took=${held.took} bound=${bound}`);
  strictEqual(held.w.held.length > 0 || held.w.acks["edge-2"] > 0, true);
});
