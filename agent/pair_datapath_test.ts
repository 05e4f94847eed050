import { deepStrictEqual, strictEqual } from "node:assert";
import type { Network, Peer } from "../config/types.ts";
import type { SessionSecrets } from "./control/mod.ts";
import type { Clock } from "./clock.ts";
import { Logger } from "./ops/log.ts";
import {
  MAX_MACS_PER_NETWORK,
  PAIR_TIMING,
  PairDatapaths,
  type PairMessage,
  sanitizeMacs,
} from "./pair_datapath.ts";
import type { FastdpCapability } from "./datapath_choice.ts";

/** A clock whose time moves only when the test says so; timers run in time order. */
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
  /** Moves time forward by `ms`, running due timers and the promise jobs they start. */
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

const CAPABLE: FastdpCapability = { capable: true, reason: "kernel VXLAN + ESP (AES-GCM)" };
const peer = (name: string, i: number): Peer => ({
  name,
  address: `192.0.2.${i + 1}`,
  family: 4,
  port: 6784,
  index: i,
  endpoint: { kind: "ip", ip: `192.0.2.${i + 1}`, family: 4, port: 6784 },
  key: null,
});
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
const secrets = (id: number): SessionSecrets => ({
  sessionKey: new Uint8Array(32),
  dialerNonce: new Uint8Array(32),
  listenerNonce: new Uint8Array(32),
  localIsDialer: id === 1,
  authenticated: true,
  id,
});

interface Box {
  name: string;
  pairs: PairDatapaths;
  /** Heartbeats sent from this box arrive at the other while true. */
  vxlanOut: boolean;
  /** Messages this box would send that the test drops. */
  dropSend: (msg: PairMessage) => boolean;
  sent: PairMessage[];
  hostChanges: { peer: string; moved: boolean }[];
  logs: string[];
}

/** Two boxes, edge-1 (the decider) and edge-2, wired through a fake session and VXLAN. */
function pair(opts: { capB?: FastdpCapability; networks?: Network[] } = {}) {
  const clock = new ManualClock();
  const boxes = new Map<string, Box>();
  const make = (name: string, other: string, i: number, cap: FastdpCapability): Box => {
    // The effects run only after construction, when `box` is set.
    // deno-lint-ignore prefer-const -- assigned once, after the effects that read it are made
    let box!: Box;
    const logs: string[] = [];
    const pairs = new PairDatapaths({
      localName: name,
      clock,
      firstIndex: 100 * (i + 1),
      log: new Logger(name, "debug", "text", (l) => logs.push(l)),
      effects: {
        send(to, msg) {
          box.sent.push(msg);
          if (box.dropSend(msg)) return true;
          // Control messages take a millisecond, like a LAN round trip.
          clock.after(1, () => boxes.get(to)!.pairs.message(name, msg));
          return true;
        },
        heartbeat(from, _to, _port) {
          const nonce = crypto.randomUUID();
          if (box.vxlanOut) {
            clock.after(1, () => boxes.get(other)!.pairs.heartbeatFrom(from, nonce));
          }
          return Promise.resolve(nonce);
        },
        sleeveChanged() {},
        hostChanged(p, moved) {
          box.hostChanges.push({ peer: p.peer.name, moved });
        },
      },
    });
    box = { name, pairs, vxlanOut: true, dropSend: () => false, sent: [], hostChanges: [], logs };
    box.pairs.configure({ capability: cap, networks: opts.networks ?? [NET], aead: "aes-256-gcm" });
    box.pairs.setPeers([peer(other, i === 0 ? 1 : 0)]);
    box.pairs.start();
    boxes.set(name, box);
    return box;
  };
  const a = make("edge-1", "edge-2", 0, CAPABLE);
  const b = make("edge-2", "edge-1", 1, opts.capB ?? CAPABLE);
  const up = async () => {
    a.pairs.sessionUp("edge-2", secrets(1));
    b.pairs.sessionUp("edge-1", secrets(2));
    await clock.advance(5);
  };
  const state = (box: Box) => {
    const p = box.pairs.pairs()[0];
    return { datapath: p.datapath, reason: p.reason };
  };
  return { clock, a, b, up, state };
}

Deno.test("pair: both ends capable and heartbeats answered both ways: fast datapath", async () => {
  const { clock, a, b, up, state } = pair();
  await up();
  deepStrictEqual(state(a), {
    datapath: "probing",
    reason: "both ends can do fast datapath; heartbeat through VXLAN",
  });
  await clock.advance(PAIR_TIMING.tickMs + 10);
  const settled = { datapath: "fastdp", reason: "heartbeat through VXLAN answered both ways" };
  deepStrictEqual(state(a), settled);
  deepStrictEqual(state(b), settled);
  // Entering probing moved the pair onto fast-datapath kernel state.
  deepStrictEqual(a.hostChanges[0], { peer: "edge-2", moved: true });
  // Steady state: still fast after many heartbeat periods.
  await clock.advance(5 * PAIR_TIMING.fastdpDeadMs);
  deepStrictEqual(state(a), settled);
  deepStrictEqual(state(b), settled);
});

Deno.test("pair: heartbeats lost in one direction: both ends fall back to the sleeve", async () => {
  const { clock, a, b, up, state } = pair();
  b.vxlanOut = false; // edge-2 → edge-1 never arrives
  await up();
  await clock.advance(PAIR_TIMING.probeTimeoutMs + 2 * PAIR_TIMING.tickMs);
  const want = {
    datapath: "sleeve",
    reason:
      `heartbeat through VXLAN from edge-2 got no answer within ${PAIR_TIMING.probeTimeoutMs} ms`,
  };
  deepStrictEqual(state(a), want);
  deepStrictEqual(state(b), want);
  deepStrictEqual(b.sent.filter((m) => m.type === "probe-result"), [
    { type: "probe-result", ok: false },
  ]);
});

Deno.test("pair: a fast-datapath pair whose heartbeats stop goes back to the sleeve", async () => {
  const { clock, a, b, up, state } = pair();
  await up();
  await clock.advance(PAIR_TIMING.tickMs + 10);
  strictEqual(state(a).datapath, "fastdp");
  const before = clock.now();
  a.vxlanOut = false;
  b.vxlanOut = false;
  while (state(b).datapath === "fastdp" && clock.now() - before < 4 * PAIR_TIMING.fastdpDeadMs) {
    await clock.advance(PAIR_TIMING.tickMs);
  }
  const took = clock.now() - before;
  const want = {
    datapath: "sleeve",
    reason: `heartbeat through VXLAN lost for ${PAIR_TIMING.fastdpDeadMs} ms`,
  };
  deepStrictEqual(state(a), want);
  deepStrictEqual(state(b), want);
  const bound = PAIR_TIMING.fastdpDeadMs + PAIR_TIMING.fastdpHeartbeatMs + 2 * PAIR_TIMING.tickMs;
  strictEqual(
    took > PAIR_TIMING.fastdpDeadMs && took <= bound,
    true,
    `took=${took} bound=${bound}`,
  );
  // Leaving fast datapath asks for a reconcile that flushes learned MACs.
  deepStrictEqual(a.hostChanges.at(-1), { peer: "edge-2", moved: true });
});

Deno.test("pair: a peer without fast datapath puts the pair on the sleeve and says why", async () => {
  const { a, b, up, state } = pair({
    capB: { capable: false, reason: "the config sets datapath: sleeve" },
  });
  await up();
  deepStrictEqual(state(a), {
    datapath: "sleeve",
    reason: "peer edge-2: the config sets datapath: sleeve",
  });
  deepStrictEqual(state(b), { datapath: "sleeve", reason: "the config sets datapath: sleeve" });
  strictEqual(a.hostChanges.length, 0, JSON.stringify(a.hostChanges));
});

Deno.test("pair: no network in common is an idle sleeve pair", async () => {
  const { a, up, state } = pair({ networks: [] });
  await up();
  deepStrictEqual(state(a), { datapath: "sleeve", reason: "no network in common (idle)" });
});

Deno.test("pair: forged heartbeat acks never move a pair onto fast datapath", async () => {
  const { clock, a, b, up, state } = pair();
  // Heartbeats are lost both ways; the peer (or anyone with its session) acks nonces it made up.
  a.vxlanOut = false;
  b.vxlanOut = false;
  await up();
  for (let i = 0; i < 50; i++) {
    a.pairs.message("edge-2", { type: "hb-ack", nonce: crypto.randomUUID() });
    b.pairs.message("edge-1", { type: "hb-ack", nonce: crypto.randomUUID() });
  }
  await clock.advance(PAIR_TIMING.probeTimeoutMs + 2 * PAIR_TIMING.tickMs);
  const want = {
    datapath: "sleeve",
    reason:
      `heartbeat through VXLAN to edge-2 got no answer within ${PAIR_TIMING.probeTimeoutMs} ms`,
  };
  deepStrictEqual(state(a), want);
});

Deno.test("pair: messages that are not the negotiation's are dropped and counted", async () => {
  const { a, up, state } = pair({
    capB: { capable: false, reason: "no ESP" },
  });
  await up();
  const before = state(a);
  a.pairs.message("edge-2", { type: "gossip", x: 1 });
  a.pairs.message("edge-2", { type: "hb-ack", nonce: 7 });
  a.pairs.message("edge-2", { type: "datapath", datapath: "fastdp" }); // the decider ignores it
  strictEqual(a.pairs.dropped, 2);
  deepStrictEqual(state(a), before);
});

Deno.test("pair: session down resets the pair and releases fast-datapath state", async () => {
  const { clock, a, up, state } = pair();
  await up();
  await clock.advance(PAIR_TIMING.tickMs + 10);
  strictEqual(state(a).datapath, "fastdp");
  const firstIndex = a.pairs.pairs()[0].localIndex;
  a.pairs.sessionDown("edge-2", "connection closed by the peer");
  deepStrictEqual(state(a), {
    datapath: "pending",
    reason: "session down: connection closed by the peer",
  });
  deepStrictEqual(a.hostChanges.at(-1), { peer: "edge-2", moved: false });
  a.pairs.sessionUp("edge-2", secrets(3));
  const next = a.pairs.pairs()[0].localIndex;
  strictEqual(next, firstIndex + 1, `first=${firstIndex} next=${next}`);
});

Deno.test("pair: announced MAC lists are bounded and keep only well-formed entries", () => {
  const many = Array.from(
    { length: 100 },
    (_, i) => `02:00:00:00:00:${i.toString(16).padStart(2, "0")}`,
  );
  const out = sanitizeMacs({ "100": [...many, "nope", 3], "x": ["02:00:00:00:00:01"], "7": "a" });
  deepStrictEqual(Object.keys(out), ["100"]);
  strictEqual(out["100"].length, MAX_MACS_PER_NETWORK);
  deepStrictEqual(sanitizeMacs(["02:00:00:00:00:01"]), {});
  deepStrictEqual(sanitizeMacs(null), {});
});
