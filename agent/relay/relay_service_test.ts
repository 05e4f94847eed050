import { deepStrictEqual, ok, strictEqual } from "node:assert";
import type {
  ByteStream,
  ConnectionOutcome,
  ControlMessage,
  Logger,
  PeerConnectionsStatus,
  PeerStatus,
  PeerWait,
} from "../control/mod.ts";
import {
  type Edge,
  GOSSIP_TIMING,
  type RelayPolicy,
  scaledForwardTiming,
} from "../topology/mod.ts";
import { directGaveUp, openerOf, RELAY_TIMING, RelayService } from "./relay_service.ts";

const quiet: Logger = {
  log() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Three boxes in memory: a and b each have a session with c only; c may be told not to relay. */
function fleet(policy: Map<string, RelayPolicy>, loopLag = () => 0) {
  const names = ["a", "b", "c"];
  const links = new Set(["a|c", "b|c"]);
  const linked = (x: string, y: string) => links.has(x < y ? `${x}|${y}` : `${y}|${x}`);
  const edges: Edge[] = [
    { a: "a", b: "b", state: "down", rttMs: null, why: "blocked" },
    { a: "a", b: "c", state: "direct", rttMs: 1, why: null },
    { a: "b", b: "c", state: "direct", rttMs: 1, why: null },
  ];
  const services = new Map<string, RelayService>();
  const received = new Map<string, string[]>();
  const outcomes: ConnectionOutcome[] = [];
  for (const self of names) {
    const status = (): PeerConnectionsStatus => ({
      peers: Object.fromEntries(
        names.filter((n) => n !== self).map((n) => [
          n,
          // Every pair had a direct session once (so a lost one is relayed at once; a pair that
          // never met is left to its direct dials first).
          {
            state: linked(self, n) ? "up" : "down",
            via: null,
            silentMs: 0,
            sessionsUp: 1,
          } as PeerStatus,
        ]),
      ),
    } as PeerConnectionsStatus);
    services.set(
      self,
      new RelayService({
        self,
        peers: names,
        policy,
        log: quiet,
        edges: () => edges,
        loopLag,
        control: {
          send: (peer: string, msg: ControlMessage) => {
            if (!linked(self, peer)) return false;
            const copy = JSON.parse(JSON.stringify(msg));
            queueMicrotask(() => services.get(peer)!.receive(self, copy));
            return true;
          },
          status,
          directUp: (peer: string) => linked(self, peer),
          directSilentMs: (peer: string) => linked(self, peer) ? 0 : null,
          heartbeatMs: () => 2000,
          runRelayed: async (stream: ByteStream, o) => {
            const buf = new Uint8Array(64);
            if (o.role === "dialer") await stream.write(new TextEncoder().encode("hello"));
            const n = await stream.read(buf);
            const got = n === null ? "<closed>" : new TextDecoder().decode(buf.subarray(0, n));
            received.set(self, [...received.get(self) ?? [], got]);
            if (o.role === "listener") await stream.write(new TextEncoder().encode(`re: ${got}`));
            outcomes.push("session");
            return "session";
          },
        },
      }),
    );
  }
  return { services, received, outcomes };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

Deno.test("relay service: a opens a stream to b through c, c forwards bytes it cannot read", async () => {
  const { services, received } = fleet(new Map());
  services.get("a")!.tick();
  await settle();
  deepStrictEqual(received.get("b"), ["hello"]);
  deepStrictEqual(received.get("a"), ["re: hello"]);
  const c = services.get("c")!.view();
  strictEqual(c.counters.forwardedMessages, 2, JSON.stringify(c.counters));
  strictEqual(c.counters.forwardedBytes, "hello".length + "re: hello".length);
  strictEqual(c.streams.length, 0, "no stream ends at the relay");
  deepStrictEqual(services.get("a")!.view().streams.map((s) => `${s.peer} via ${s.via}`), [
    "b via c",
  ]);
});

Deno.test("relay service: relay: false on c: it forwards nothing, counts the refusal, a opens nothing", async () => {
  const { services, received } = fleet(new Map([["c", { relay: false, relays: null }]]));
  // The routes of a already avoid c; a relayed message sent anyway is refused by c itself.
  services.get("c")!.receive("a", {
    type: "relay",
    from: "a",
    to: "b",
    stream: 5,
    hops: 4,
    data: btoa("hello"),
  });
  services.get("a")!.tick();
  await settle();
  strictEqual(received.get("b"), undefined, "b heard nothing");
  const c = services.get("c")!.view();
  strictEqual(c.relays, false);
  strictEqual(c.counters.forwardedMessages, 0);
  strictEqual(c.counters.dropped.policy, 1, JSON.stringify(c.counters));
});

Deno.test("relay service: the stream id says which end opened it", () => {
  strictEqual(openerOf(0x80000005, "b", "a"), "a");
  strictEqual(openerOf(0x00000005, "b", "a"), "b");
});

Deno.test("relay service: data still in flight for a stream that ended here is refused, not taken for a new stream", async () => {
  const sent: ControlMessage[] = [];
  let accepted = 0;
  const b = new RelayService({
    self: "b",
    peers: ["a", "b", "c"],
    policy: new Map(),
    log: quiet,
    edges: () => [],
    control: {
      send: (_peer: string, msg: ControlMessage) => (sent.push(msg), true),
      status: () => null,
      directUp: (peer: string) => peer === "c",
      directSilentMs: (peer: string) => peer === "c" ? 0 : null,
      heartbeatMs: () => 2000,
      // The handshake on the relayed stream fails at once (as on a timeout): the stream closes.
      runRelayed: async (stream: ByteStream) => {
        accepted++;
        await stream.close();
        return "failed";
      },
    },
  });
  // a sorts before b: the ids a opens have the high bit set.
  const id = 0x80000011;
  const data = (text: string) => ({
    type: "relay",
    from: "a",
    to: "b",
    stream: id,
    hops: 4,
    data: btoa(text),
  });
  b.receive("c", data("first bytes of a handshake"));
  await settle();
  strictEqual(accepted, 1);
  strictEqual(b.view().streams.length, 0, "the failed stream is gone");
  sent.length = 0;
  b.receive("c", data("the middle of the old stream"));
  await settle();
  strictEqual(accepted, 1, "late data started no second handshake");
  deepStrictEqual(sent.map((m) => [m.type, m.stream, m.why]), [[
    "relay-close",
    id,
    "stream ended",
  ]]);
  strictEqual(b.view().counters.streamsAccepted, 1);
});

Deno.test("relay service: a box whose timers run late opens no relayed stream until they keep time again", async () => {
  let lag = 5000;
  const { services, received } = fleet(new Map(), () => lag);
  services.get("a")!.tick();
  await settle();
  strictEqual(received.get("b"), undefined, "nothing relayed while a is starved");
  strictEqual(services.get("a")!.view().streams.length, 0);
  lag = 0;
  services.get("a")!.tick();
  await settle();
  deepStrictEqual(received.get("b"), ["hello"]);
});

Deno.test("relay service: a quiet fleet's tick builds no status and no routes; a silent session brings them back", () => {
  let statusCalls = 0, edgeCalls = 0;
  const silentMs = new Map([["b", 100], ["c", 100]]);
  const periods = new Map<string, number>();
  // c as status shows it once its session is gone: sessionsUp 0 while a fleet starts.
  let cHadSession = false;
  const status = () => {
    statusCalls++;
    const c = {
      state: "down",
      via: null,
      silentMs: null,
      sessionsUp: cHadSession ? 1 : 0,
      dials: 1,
    };
    const b = { state: "up", via: null, silentMs: 0, sessionsUp: 1 };
    return {
      peers: Object.fromEntries([["b", b as PeerStatus], ["c", c as PeerStatus]]),
    } as PeerConnectionsStatus;
  };
  const a = new RelayService({
    self: "a",
    peers: ["a", "b", "c", "d"],
    policy: new Map(),
    log: quiet,
    edges: () => (edgeCalls++, []),
    control: {
      send: () => true,
      status,
      directUp: (peer: string) => peer === "b",
      // d shares no network with a: the session layer does not know it, nothing to relay.
      directSilentMs: (peer: string) => peer === "d" ? undefined : silentMs.get(peer) ?? null,
      heartbeatMs: (peer: string) => periods.get(peer) ?? 2000,
      runRelayed: () => Promise.resolve("failed"),
    },
  });
  for (let i = 0; i < 5; i++) a.tick();
  deepStrictEqual([statusCalls, edgeCalls], [0, 0]);
  // A large fleet heartbeats c's session every 5 s: 4.6 s of silence is normal there.
  periods.set("c", 5000);
  silentMs.set("c", 4600);
  a.tick();
  strictEqual(statusCalls, 0, "silence within the session's (stretched) heartbeat period");
  silentMs.set("c", 11_300);
  a.tick();
  strictEqual(statusCalls, 1, "silence past the stretched silentAfterMs (11.25 s)");
  statusCalls = 0;
  periods.delete("c");
  silentMs.set("c", 4600);
  a.tick();
  strictEqual(statusCalls, 1, "a session silent past silentAfterMs: the full tick runs");
  silentMs.delete("c");
  a.tick();
  deepStrictEqual(
    [statusCalls, edgeCalls],
    [2, 0],
    "c never had a session and its direct dials still have time: no routes needed",
  );
  cHadSession = true;
  a.tick();
  deepStrictEqual([statusCalls, edgeCalls], [3, 1], "c lost its session: routes to relay it");
});

Deno.test("relay service: a pair that never met is relayed for unanswered connects, not for slow handshakes", () => {
  const t = RELAY_TIMING;
  const st = (o: Partial<PeerStatus>) =>
    ({
      state: "connecting",
      sessionsUp: 0,
      dials: 4,
      failedAttempts: 4,
      unreachedAttempts: 0,
      dialable: true,
      waitingFor: "backoff",
      lastError: "handshake did not complete in 5000 ms",
      ...o,
    }) as PeerStatus;
  // Lost a session it had: relayed at once; so is a peer the session layer does not know.
  strictEqual(directGaveUp(st({ sessionsUp: 1 }), 0, t), true);
  strictEqual(directGaveUp(undefined, 0, t), true);
  // Its direct dials get directFirstMs first, whatever they met.
  strictEqual(directGaveUp(st({ unreachedAttempts: 4 }), t.directFirstMs - 1, t), false);
  // Connects that got no answer: a blocked path, relayed once the dials had their go.
  strictEqual(directGaveUp(st({ unreachedAttempts: 3 }), t.directFirstMs, t), true);
  strictEqual(directGaveUp(st({ unreachedAttempts: 2 }), t.directFirstMs, t), false);
  // Connects answered, handshakes out of time: a busy box; relayed only after directSlowMs.
  strictEqual(directGaveUp(st({}), t.directFirstMs, t), false);
  strictEqual(directGaveUp(st({}), t.directSlowMs - 1, t), false);
  strictEqual(directGaveUp(st({}), t.directSlowMs, t), true);
  // Refused: the peer's agent is not listening yet; never a reason to relay.
  strictEqual(directGaveUp(st({ lastError: "connection refused" }), t.directSlowMs, t), false);
  // A direct attempt runs or waits for a dial slot: never relayed meanwhile.
  const underWay: PeerWait[] = ["dial", "dial-slot", "connect", "handshake", "inbound-handshake"];
  for (const waitingFor of underWay) {
    strictEqual(directGaveUp(st({ unreachedAttempts: 5, waitingFor }), 1e6, t), false, waitingFor);
  }
  // We cannot dial the peer (no address here): waiting gains nothing.
  const undialled = { dials: 0, failedAttempts: 0, lastError: null, waitingFor: "peer" as const };
  strictEqual(directGaveUp(st({ ...undialled, dialable: false }), t.directFirstMs, t), true);
  // We could, but leave the pair to the peer's dials (it decides): only after directSlowMs.
  strictEqual(directGaveUp(st({ ...undialled, dialable: true }), t.directFirstMs, t), false);
  strictEqual(directGaveUp(st({ ...undialled, dialable: true }), t.directSlowMs, t), true);
});

Deno.test("the gossip's news of a pair apart arrives before the pair may be relayed, in any fleet", () => {
  // Routes over a relay need the far end's record: second-hand, after the gossip waited for the
  // pair to meet. That wait grows with the fleet but must end before relays may open.
  for (const boxes of [2, 50, 100, 1000, 10_000]) {
    const { meetMs } = scaledForwardTiming(GOSSIP_TIMING, boxes);
    ok(meetMs + GOSSIP_TIMING.forwardMs < RELAY_TIMING.directFirstMs, `${boxes} boxes: ${meetMs}`);
  }
});
