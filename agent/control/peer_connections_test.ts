/**
 * The connection manager over real loopback TCP, each peer on its own 127.0.0.x address:
 * full mesh, wrong password, simultaneous dial, restart, impostors, version mismatch, config
 * reload, forged and replayed frames, silent peers, and a fuzz run of thousands of malformed
 * inputs while the mesh keeps talking.
 */

import { deepStrictEqual, ok as assert, strictEqual } from "node:assert";
import {
  agreeOnSession,
  encodeHeader,
  encodeHello,
  encodeRecord,
  RecordKind,
  runHandshake,
} from "./handshake.ts";
import { FrameReader, MAX_FRAME_BYTES } from "./frame_reader.ts";
import { TAG_BYTES } from "./secure_channel.ts";
import { Logger } from "../ops/log.ts";
import { PeerConnections, type PeerConnectionsOptions } from "./peer_connections.ts";
import type { SessionSecrets } from "./session_keys.ts";
import { type ByteStream, DenoConnStream, dialTcp } from "./tcp_stream.ts";

const te = new TextEncoder();
const PW = te.encode("mesh password of decent length 5521");
const PORT = 20000 + Math.floor(Math.random() * 20000);

interface Node {
  name: string;
  address: string;
  pc: PeerConnections;
  logs: string[];
  ups: { peer: string; secrets: SessionSecrets }[];
  downs: { peer: string; reason: string }[];
  messages: { peer: string; msg: Record<string, unknown> }[];
  authFailed: { peer: string; address: string }[];
}

const FAST = {
  heartbeatMs: 150,
  deadAfterMs: 1000,
  handshakeTimeoutMs: 1500,
  backoffBaseMs: 50,
  backoffMaxMs: 500,
  deferDialMs: 50,
};

/** Managers named `names`, peer i on 127.0.0.(base+i), all configured with each other. */
function mesh(
  base: number,
  names: string[],
  opts: Partial<PeerConnectionsOptions> = {},
  perNode: Record<string, Partial<PeerConnectionsOptions>> = {},
): Node[] {
  const addr = (i: number) => `127.0.0.${base + i}`;
  return names.map((name, i) =>
    makeNode(name, addr(i), {
      peers: names.flatMap((n, j) => n === name ? [] : [{ name: n, address: addr(j), port: PORT }]),
      ...opts,
      ...perNode[name],
    })
  );
}

function makeNode(name: string, address: string, opts: Partial<PeerConnectionsOptions>): Node {
  const logs: string[] = [];
  const ups: Node["ups"] = [];
  const downs: Node["downs"] = [];
  const messages: Node["messages"] = [];
  const authFailed: Node["authFailed"] = [];
  const pc = new PeerConnections({
    localName: name,
    listenAddress: address,
    listenPort: PORT,
    peers: [],
    password: PW,
    logger: new Logger(name, "info", "text", (l) => logs.push(l)),
    onSessionUp: (e) => ups.push(e),
    onSessionDown: (e) => downs.push(e),
    onMessage: (e) => messages.push(e),
    onAuthFailed: (e) => authFailed.push(e),
    ...FAST,
    ...opts,
  });
  return { name, address, pc, logs, ups, downs, messages, authFailed };
}

async function until(what: string, cond: () => boolean, timeoutMs = 8000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const up = (n: Node, peer: string) => n.pc.status().peers[peer]?.state === "up";
const fullMesh = (nodes: Node[]) =>
  nodes.every((a) => nodes.every((b) => a === b || up(a, b.name)));

async function closeAll(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.pc.close()));
}

/** The current session secrets each side of a pair holds: they must be the same session. */
function sameSession(a: Node, b: Node): void {
  const sa = a.ups.filter((u) => u.peer === b.name).at(-1)!.secrets;
  const sb = b.ups.filter((u) => u.peer === a.name).at(-1)!.secrets;
  deepStrictEqual(sa.sessionKey, sb.sessionKey);
  strictEqual(sa.localIsDialer, !sb.localIsDialer);
}

// Sanitizers stay on: close() must leave no socket, op or timer behind.
const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  ...opts,
  name: "three managers form a full mesh; messages, RTT and counters flow",
  async fn() {
    const nodes = mesh(11, ["edge-1", "edge-2", "edge-3"]);
    try {
      nodes.forEach((n) => n.pc.start());
      await until("full mesh", () => fullMesh(nodes));
      for (const a of nodes) {
        for (const b of nodes) if (a.name < b.name) sameSession(a, b);
      }
      strictEqual(nodes[0].pc.send("edge-2", { type: "caps", fastdp: true }), true);
      strictEqual(nodes[2].pc.send("edge-1", { type: "macs", macs: {} }), true);
      strictEqual(nodes[0].pc.send("nobody", { type: "caps" }), false);
      await until("messages", () => nodes[1].messages.length > 0 && nodes[0].messages.length > 0);
      deepStrictEqual(nodes[1].messages[0], {
        peer: "edge-1",
        msg: { type: "caps", fastdp: true },
      });
      deepStrictEqual(nodes[0].messages[0], { peer: "edge-3", msg: { type: "macs", macs: {} } });
      await until(
        "RTT",
        () => nodes.every((n) => Object.values(n.pc.status().peers).every((p) => p.rttMs !== null)),
      );
      const st = nodes[0].pc.status();
      const p = st.peers["edge-2"];
      strictEqual(p.authenticated, true);
      strictEqual(typeof p.sessionId, "number");
      strictEqual(p.address, "127.0.0.12:" + PORT);
      assert(p.rttMs !== null && p.rttMs >= 0 && p.rttMs < 500, `rttMs=${p.rttMs}`);
      assert(
        p.counters.messagesOut > 0 && p.counters.bytesIn > 0,
        `counters=${JSON.stringify(p.counters)}`,
      );
      assert(Object.values(st.drops).every((v) => v === 0), `drops=${JSON.stringify(st.drops)}`);
      // Exactly one session-up per peer and side: no flapping.
      for (const n of nodes) {
        strictEqual(n.ups.length, 2, `${n.name}: ${JSON.stringify(n.ups.map((u) => u.peer))}`);
        strictEqual(n.downs.length, 0);
      }
    } finally {
      await closeAll(nodes);
    }
    // Without a password the mesh still forms, marked unauthenticated.
    const open = mesh(14, ["u-1", "u-2"], { password: null });
    try {
      open.forEach((n) => n.pc.start());
      await until("unauthenticated pair", () => fullMesh(open));
      strictEqual(open[0].ups[0].secrets.authenticated, false);
      strictEqual(open[0].pc.status().peers["u-2"].authenticated, false);
    } finally {
      await closeAll(open);
    }
  },
});

Deno.test({
  ...opts,
  name: "wrong password: both sides report the exact mismatch, never a session",
  async fn() {
    const nodes = mesh(21, ["edge-1", "edge-2", "edge-3"], {}, {
      "edge-3": { password: te.encode("this is not the fleet password 42") },
    });
    const [e1, e2, e3] = nodes;
    try {
      nodes.forEach((n) => n.pc.start());
      await until("edge-1/edge-2 up", () => up(e1, "edge-2") && up(e2, "edge-1"));
      await until(
        "mismatch on all sides",
        () =>
          [e1, e2].every((n) => n.pc.status().peers["edge-3"].state === "auth-failed") &&
          ["edge-1", "edge-2"].every((p) => e3.pc.status().peers[p].state === "auth-failed"),
      );
      strictEqual(
        e1.pc.status().peers["edge-3"].lastError,
        "password mismatch with peer edge-3 at 127.0.0.23",
      );
      strictEqual(
        e3.pc.status().peers["edge-1"].lastError,
        "password mismatch with peer edge-1 at 127.0.0.21",
      );
      strictEqual(
        e1.logs.some((l) =>
          / error edge-1: password mismatch with peer edge-3 at 127\.0\.0\.23$/.test(l)
        ),
        true,
        e1.logs.join("\n"),
      );
      strictEqual(
        e3.logs.some((l) => l.endsWith("password mismatch with peer edge-2 at 127.0.0.22")),
        true,
      );
      deepStrictEqual(e3.authFailed.find((a) => a.peer === "edge-1"), {
        peer: "edge-1",
        address: "127.0.0.21",
      });
      deepStrictEqual(
        [...new Set(e1.authFailed.map((a) => a.peer))],
        ["edge-3"],
      );
      await sleep(500); // retries keep failing the same way
      for (const n of [e1, e2]) {
        strictEqual(n.ups.some((u) => u.peer === "edge-3"), false, `${n.name} had a session`);
      }
      strictEqual(e3.ups.length, 0);
      const authDrops = e1.pc.status().drops.auth;
      assert(authDrops > 0, `drops.auth=${authDrops}`);
    } finally {
      await closeAll(nodes);
    }
  },
});

Deno.test({
  ...opts,
  name: "simultaneous dial: exactly one session per pair, the same on both sides",
  async fn() {
    let duplicates = 0;
    for (let round = 0; round < 8; round++) {
      const base = 40 + round * 2;
      const nodes = mesh(base, ["sim-a", "sim-b"], { deferDialMs: 0, dialJitterMs: 0 });
      try {
        nodes.forEach((n) => n.pc.start());
        await until("pair up", () => fullMesh(nodes));
        await sleep(300); // let the losing connection finish and be closed
        const [a, b] = nodes;
        strictEqual(a.ups.length, 1, `round ${round}: sim-a saw ${a.ups.length} session-up`);
        strictEqual(b.ups.length, 1, `round ${round}: sim-b saw ${b.ups.length} session-up`);
        strictEqual(a.downs.length + b.downs.length, 0);
        sameSession(a, b);
        strictEqual(a.pc.status().peers["sim-b"].sessionId, a.ups[0].secrets.id);
        duplicates += a.pc.status().duplicatesClosed + b.pc.status().duplicatesClosed;
        for (const n of nodes) {
          strictEqual(n.logs.filter((l) => / (warn|error) /.test(l)).length, 0, n.logs.join("\n"));
        }
      } finally {
        await closeAll(nodes);
      }
    }
    // The race really happened (both dialled and both connections were confirmed) at least once.
    assert(duplicates > 0, `no round had two confirmed connections: duplicates=${duplicates}`);
  },
});

Deno.test({
  ...opts,
  name: "a stopped and restarted peer is back within seconds",
  async fn() {
    const nodes = mesh(61, ["r-1", "r-2", "r-3"]);
    let restarted: Node | null = null;
    try {
      nodes.forEach((n) => n.pc.start());
      await until("full mesh", () => fullMesh(nodes));
      const [r1, r2, r3] = nodes;
      await r2.pc.close();
      await until("r-2 down at r-1 and r-3", () => !up(r1, "r-2") && !up(r3, "r-2"), 3000);
      strictEqual(r1.downs.at(-1)!.peer, "r-2");
      await sleep(1500); // a while down: backoff grows (capped at 500 ms here)
      restarted = makeNode("r-2", "127.0.0.62", {
        peers: [
          { name: "r-1", address: "127.0.0.61", port: PORT },
          { name: "r-3", address: "127.0.0.63", port: PORT },
        ],
      });
      const t0 = Date.now();
      restarted.pc.start();
      await until("mesh again", () => fullMesh([r1, restarted!, r3]), 5000);
      const took = Date.now() - t0;
      assert(took < 3000, `reconnect took ${took} ms`);
      sameSession(r1, restarted);
      sameSession(restarted, r3);
    } finally {
      await closeAll(nodes);
      if (restarted) await restarted.pc.close();
    }
  },
});

/** Runs a dialer handshake against `target` from `source`, claiming `name`; returns the error. */
async function impostor(
  target: string,
  source: string,
  name: string,
  password: Uint8Array | null = PW,
  versions?: { min: number; max: number },
): Promise<string> {
  const stream = await dialTcp({
    hostname: target,
    port: PORT,
    localAddress: source,
    timeoutMs: 2000,
  });
  try {
    await runHandshake({
      stream,
      reader: new FrameReader(stream),
      role: "dialer",
      localName: name,
      password,
      remoteAddress: target,
      expectedPeer: "gate",
      versions,
    });
    return "handshake succeeded";
  } catch (e) {
    return e instanceof Error ? `${(e as { reason?: string }).reason}: ${e.message}` : String(e);
  } finally {
    stream.close();
  }
}

Deno.test({
  ...opts,
  name: "impostors, unknown names and other protocol versions are refused and counted",
  async fn() {
    const nodes = mesh(71, ["gate", "m-2"]);
    const [gate] = nodes;
    try {
      nodes.forEach((n) => n.pc.start());
      await until("pair up", () => fullMesh(nodes));
      // The right name and password from an address no peer has: closed before any byte.
      strictEqual(
        await impostor("127.0.0.71", "127.0.0.79", "m-2"),
        "truncated: connection closed after 0 of 14 bytes",
      );
      // From a configured address: an unknown name, and another peer's name.
      gate.pc.updatePeers([
        { name: "m-2", address: "127.0.0.72", port: PORT },
        { name: "m-3", address: "127.0.0.73", port: PORT },
      ]);
      strictEqual(
        await impostor("127.0.0.71", "127.0.0.73", "m-9"),
        "refused: peer gate at 127.0.0.71 refused the connection: " +
          "peer name m-9 is not in weave.yaml of gate",
      );
      strictEqual(
        await impostor("127.0.0.71", "127.0.0.73", "m-2"),
        "refused: peer gate at 127.0.0.71 refused the connection: " +
          "peer m-2 must connect from 127.0.0.72, not 127.0.0.73",
      );
      // A future agent: refused by both with the versions in the message.
      const v = await impostor("127.0.0.71", "127.0.0.73", "m-3", PW, { min: 4, max: 4 });
      strictEqual(
        v.startsWith("bad-version: peer gate at 127.0.0.71: incompatible protocol versions"),
        true,
        v,
      );
      await until(
        "version-mismatch state",
        () => gate.pc.status().peers["m-3"]?.state === "version-mismatch",
        2000,
      );
      strictEqual(
        gate.logs.some((l) =>
          l.includes("incompatible protocol versions: peer speaks 4..4, this agent 3..3")
        ),
        true,
      );
      const drops = gate.pc.status().drops;
      strictEqual(drops["unknown-peer"], 3, JSON.stringify(drops));
      strictEqual(drops["bad-version"], 1);
      // The established session never noticed.
      strictEqual(gate.pc.status().peers["m-2"]?.state, "up");
      deepStrictEqual(nodes[1].downs, []);
    } finally {
      await closeAll(nodes);
    }
  },
});

Deno.test({
  ...opts,
  name: "a decider that heartbeats seldom (a large fleet) is judged by its period, not the peer's",
  async fn() {
    // hb-a decides (smaller name) and heartbeats every 1.2 s, as a box with a large fleet
    // would; hb-b's own period is 150 ms and its silence limit 1 s. Judged by its own period,
    // hb-b would end the session between every two heartbeats.
    const nodes = mesh(121, ["hb-a", "hb-b"], {}, {
      "hb-a": { heartbeatMs: 1200, deadAfterMs: 8000 },
    });
    const [a, b] = nodes;
    try {
      nodes.forEach((n) => n.pc.start());
      await until("session", () => fullMesh(nodes));
      await until(
        "a heartbeat announced the period",
        () => b.pc.status().peers["hb-a"].heartbeatMs !== 150,
      );
      // Announced 1200 ms, clamped to 7.5 × hb-b's own 150 ms base.
      strictEqual(b.pc.status().peers["hb-a"].heartbeatMs, 1125);
      strictEqual(b.pc.heartbeatMs("hb-a"), 1125);
      strictEqual(a.pc.status().peers["hb-b"].heartbeatMs, 1200);
      await sleep(4000);
      deepStrictEqual([a.downs, b.downs], [[], []], "no session ended for silence");
      strictEqual(a.ups.length + b.ups.length, 2);
    } finally {
      await closeAll(nodes);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "a session busy both ways goes without most heartbeats; a quiet one heartbeats every period",
  async fn() {
    // hb-c decides (smaller name). While messages flow both ways every 50 ms, each side hears
    // from the other well within a 150 ms period, so the decider's ticks send a heartbeat only
    // every fifth one (the round trip stays fresh); once the messages stop, every tick sends one.
    const nodes = mesh(131, ["hb-c", "hb-d"]);
    const [c, d] = nodes;
    const heartbeatsSent = (sent: number) =>
      c.pc.status().peers["hb-d"].counters.messagesOut - sent;
    try {
      nodes.forEach((n) => n.pc.start());
      await until("session", () => fullMesh(nodes));
      await until("a first round trip", () => c.pc.status().peers["hb-d"].rttMs !== null);
      let sent = 0;
      const out0 = c.pc.status().peers["hb-d"].counters.messagesOut;
      const t0 = Date.now();
      while (Date.now() - t0 < 3000) {
        strictEqual(c.pc.send("hb-d", { type: "app", n: sent }), true);
        strictEqual(d.pc.send("hb-c", { type: "app", n: sent }), true);
        sent++;
        await sleep(50);
      }
      const busy = heartbeatsSent(out0 + sent);
      // 20 ticks: one in five sends (4), a few more where a loaded test box slept past a period.
      assert(busy >= 2 && busy <= 10, `heartbeats while busy: ${busy} in 3 s`);
      await until("the last app message", () => c.messages.length === sent);
      const out1 = c.pc.status().peers["hb-d"].counters.messagesOut;
      await sleep(3000);
      const quiet = c.pc.status().peers["hb-d"].counters.messagesOut - out1;
      assert(quiet >= 15, `heartbeats while quiet: ${quiet} in 3 s`);
      deepStrictEqual([c.downs, d.downs], [[], []], "no session ended");
      assert(c.pc.status().peers["hb-d"].rttMs !== null);
    } finally {
      await closeAll(nodes);
    }
  },
});

Deno.test({
  ...opts,
  name: "managers of different protocol versions refuse each other with a clear log on both",
  async fn() {
    const nodes = mesh(111, ["v-1", "v-2"], {}, { "v-2": { versions: { min: 4, max: 5 } } });
    const [a, b] = nodes;
    try {
      nodes.forEach((n) => n.pc.start());
      await until(
        "both logged",
        () =>
          a.logs.some((l) => l.includes("peer speaks 4..5, this agent 3..3")) &&
          b.logs.some((l) => l.includes("peer speaks 3..3, this agent 4..5")),
      );
      await until(
        "states",
        () =>
          a.pc.status().peers["v-2"].state === "version-mismatch" &&
          b.pc.status().peers["v-1"].state === "version-mismatch",
      );
      strictEqual(a.ups.length + b.ups.length, 0);
      const badVersion = a.pc.status().drops["bad-version"];
      assert(badVersion > 0, `drops.bad-version=${badVersion}`);
    } finally {
      await closeAll(nodes);
    }
  },
});

Deno.test({
  ...opts,
  name: "updatePeers: removed peers are disconnected, added peers connect",
  async fn() {
    const nodes = mesh(81, ["c-1", "c-2", "c-3"]);
    const [c1, c2, c3] = nodes;
    try {
      nodes.forEach((n) => n.pc.start());
      await until("full mesh", () => fullMesh(nodes));
      c1.pc.updatePeers([{ name: "c-2", address: "127.0.0.82", port: PORT }]);
      deepStrictEqual(c1.downs.at(-1), { peer: "c-3", reason: "peer removed by config reload" });
      strictEqual(c1.pc.status().peers["c-3"], undefined);
      await until("c-3 sees c-1 go", () => !up(c3, "c-1"), 3000);
      await sleep(400);
      assert(!up(c3, "c-1"), `c-3 sees c-1 ${c3.pc.status().peers["c-1"]?.state}`); // c-1 refuses it now
      strictEqual(c1.pc.status().peers["c-2"]?.state, "up");
      strictEqual(c2.pc.status().peers["c-1"]?.state, "up");
      c1.pc.updatePeers([
        { name: "c-2", address: "127.0.0.82", port: PORT },
        { name: "c-3", address: "127.0.0.83", port: PORT },
      ]);
      await until("mesh again", () => fullMesh(nodes), 5000);
    } finally {
      await closeAll(nodes);
    }
  },
});

/** A hand-driven peer: completes a genuine handshake and agreement, then does what it likes. */
function rawSession(target: string, source: string, name: string) {
  return rawSessionWith(target, source, name, "gate");
}

/** {@link rawSession} with a manager of any name. */
async function rawSessionWith(target: string, source: string, name: string, expectedPeer: string) {
  const stream = await dialTcp({
    hostname: target,
    port: PORT,
    localAddress: source,
    timeoutMs: 2000,
  });
  const reader = new FrameReader(stream);
  const hs = await runHandshake({
    stream,
    reader,
    role: "dialer",
    localName: name,
    password: PW,
    remoteAddress: target,
    expectedPeer,
  });
  const verdict = await agreeOnSession(hs, { stream, reader, decider: false, remoteAddress: "" });
  strictEqual(verdict, "keep");
  return { stream, reader, hs };
}

Deno.test({
  ...opts,
  name:
    "a twin that finishes its handshake long after its session (a loaded box) is closed, not kept",
  async fn() {
    // tw-a's timers run a second late, so its handshake deadline is 1.5 s + 4 × 1 s. A hand-driven
    // tw-b opens a connection, then a second one that becomes the session; the first finishes its
    // handshake 2.7 s later, past "younger than a handshake takes" (1.5 s + 1 s), but it was under
    // way when the session was made: its twin, closed as a duplicate. Kept, it would replace the
    // session (a session-down and a new one for nothing, as in a loaded 100-agent lab).
    const a = makeNode("tw-a", "127.0.0.141", {
      peers: [{ name: "tw-b", address: "127.0.0.142", port: PORT }],
      loopLag: () => 1000,
      deferDialMs: 10_000,
    });
    a.pc.start();
    const slow = await dialTcp({
      hostname: a.address,
      port: PORT,
      localAddress: "127.0.0.142",
      timeoutMs: 2000,
    });
    let session: ByteStream | null = null;
    try {
      await sleep(300);
      const first = await rawSessionWith(a.address, "127.0.0.142", "tw-b", "tw-a");
      session = first.stream;
      await until("session", () => up(a, "tw-b"));
      await sleep(2700);
      const reader = new FrameReader(slow);
      const hs = await runHandshake({
        stream: slow,
        reader,
        role: "dialer",
        localName: "tw-b",
        password: PW,
        remoteAddress: a.address,
        expectedPeer: "tw-a",
      });
      const verdict = await agreeOnSession(hs, {
        stream: slow,
        reader,
        decider: false,
        remoteAddress: "",
      });
      strictEqual(verdict, "duplicate");
      await sleep(200);
      deepStrictEqual(a.downs, [], "the session stayed");
      strictEqual(a.ups.length, 1);
      strictEqual(a.pc.status().duplicatesClosed, 1);
    } finally {
      slow.close();
      session?.close();
      await closeAll([a]);
    }
  },
});

Deno.test({
  ...opts,
  name: "in a session: replayed and forged frames end it; a silent peer is declared down",
  async fn() {
    const gate = makeNode("gate", "127.0.0.101", {
      peers: [{ name: "s-1", address: "127.0.0.102", port: PORT }],
      deferDialMs: 5000,
    });
    try {
      gate.pc.start();
      // Replay: the same sealed frame twice (seq 0 was "ready", 1 the caps, 2 its replay).
      {
        const s = await rawSession("127.0.0.101", "127.0.0.102", "s-1");
        await until("up", () => up(gate, "s-1"), 2000);
        const f = s.hs.channel.seal({ type: "caps", n: 1 });
        await s.stream.write(f);
        await s.stream.write(f);
        await until("down", () => gate.downs.length === 1, 2000);
        strictEqual(gate.messages.length, 1);
        strictEqual(
          gate.downs[0].reason,
          "control message 2 failed authentication (forged, replayed or out of order)",
        );
        strictEqual(gate.pc.status().drops.forged, 1);
        s.stream.close();
      }
      // Forgery: a flipped bit.
      {
        const s = await rawSession("127.0.0.101", "127.0.0.102", "s-1");
        await until("up", () => up(gate, "s-1"), 2000);
        const f = s.hs.channel.seal({ type: "caps", n: 2 });
        f[f.length - 5] ^= 0x40;
        await s.stream.write(f);
        await until("down", () => gate.downs.length === 2, 2000);
        strictEqual(gate.pc.status().drops.forged, 2);
        s.stream.close();
      }
      // Silence: no heartbeats answered, nothing sent.
      {
        const s = await rawSession("127.0.0.101", "127.0.0.102", "s-1");
        await until("up", () => up(gate, "s-1"), 2000);
        const t0 = Date.now();
        await until("declared down", () => gate.downs.length === 3, 3000);
        const took = Date.now() - t0;
        assert(took >= 900 && took < 1500, `declared down after ${took} ms`);
        assert(
          gate.downs[2].reason.startsWith("nothing received for"),
          `reason=${gate.downs[2].reason}`,
        );
        s.stream.close();
      }
    } finally {
      await gate.pc.close();
    }
  },
});

// ---- fuzz ----

function rnd(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** One hostile input: bytes to send (possibly slowly), from a source address. */
interface Attack {
  kind: string;
  source: string;
  chunks: Uint8Array[];
  /** Delay between chunks (slow writer). */
  gapMs?: number;
  /** Keep the connection open this long after writing; 0 hangs up at once (truncated). */
  holdMs?: number;
}

function attacks(
  count: number,
  replay: Uint8Array[],
  peerSource: string,
  slowSource: string,
): Attack[] {
  const header = encodeHeader();
  const hello = (name: string, pub = rnd(32)) =>
    encodeHello({ nonce: rnd(32), ephemeral: pub, index: 1, nodeKey: null, name });
  const out: Attack[] = [];
  for (let i = 0; i < count; i++) {
    const source = i % 7 === 0 ? `127.0.0.${200 + (i % 50)}` : peerSource;
    const a = ((): Omit<Attack, "source"> => {
      switch (i % 12) {
        case 0:
          return { kind: "random", chunks: [rnd(1 + (i % 200))], holdMs: 0 };
        case 1:
          return { kind: "truncated header", chunks: [header.slice(0, 1 + (i % 13))], holdMs: 0 };
        case 2:
          return { kind: "header then garbage", chunks: [header, rnd(40)] };
        case 3:
          return {
            kind: "huge record length",
            chunks: [header, new Uint8Array([1, 0xff, 0xff]), rnd(16)],
          };
        case 4:
          return {
            kind: "wrong protocol name",
            chunks: [te.encode("weave-agenX\0\x01\x01"), rnd(8)],
          };
        case 5:
          return { kind: "bad version", chunks: [encodeHeader({ min: 7, max: 9 })] };
        case 6:
          return {
            kind: "truncated hello",
            chunks: [header, hello("fz-2").slice(0, 30)],
            holdMs: 0,
          };
        case 7:
          return { kind: "replayed handshake", chunks: replay };
        case 8:
          return { kind: "low-order key", chunks: [header, hello("fz-2", new Uint8Array(32))] };
        case 9:
          return {
            kind: "hello then bad confirm",
            chunks: [header, hello("fz-2"), encodeRecord(RecordKind.CONFIRM, rnd(32))],
          };
        case 10:
          return {
            kind: "huge frame prefix",
            chunks: [new Uint8Array([0xff, 0xff, 0xff, 0xff]), rnd(16)],
          };
        default:
          return i % 120 === 11
            ? {
              kind: "slow writer",
              chunks: [...header].map((b) => new Uint8Array([b])),
              gapMs: 150,
            }
            : i % 120 === 23
            ? { kind: "unanswered header", chunks: [header.slice(0, 5)], holdMs: 1500 }
            : { kind: "reset mid-header", chunks: [header.slice(0, 5)], holdMs: 0 };
      }
    })();
    // Slow ones come from the other peer's address: the per-source cap is tested separately.
    out.push({ ...a, source: a.gapMs || (a.holdMs ?? 0) >= 1500 ? slowSource : source });
  }
  return out;
}

async function launch(target: string, a: Attack): Promise<void> {
  let s: ByteStream;
  try {
    s = await dialTcp({ hostname: target, port: PORT, localAddress: a.source, timeoutMs: 2000 });
  } catch {
    return;
  }
  try {
    for (const c of a.chunks) {
      await s.write(c);
      if (a.gapMs) await sleep(a.gapMs);
    }
    // Read whatever the manager answers until it closes (bounded).
    const buf = new Uint8Array(4096);
    const deadline = Date.now() + (a.holdMs ?? 3000);
    while (Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        s.read(buf),
        new Promise<null>((r) => timer = setTimeout(() => r(null), deadline - Date.now())),
      ]).finally(() => clearTimeout(timer));
      if (n === null) break;
    }
  } catch {
    // Resets are expected.
  } finally {
    s.close();
  }
}

/** A genuine dialer handshake of `name`, recorded against a throwaway listener. */
async function recordHandshake(name: string, listenerName: string): Promise<Uint8Array[]> {
  const replay: Uint8Array[] = [];
  const l = Deno.listen({ hostname: "127.0.0.99", port: PORT });
  const accept = l.accept();
  const d = await dialTcp({ hostname: "127.0.0.99", port: PORT, timeoutMs: 2000 });
  const ls = new DenoConnStream(await accept);
  const rec: ByteStream = {
    read: (p) => d.read(p),
    write: (b) => (replay.push(b.slice()), d.write(b)),
    close: () => d.close(),
  };
  try {
    await Promise.all([
      runHandshake({
        stream: rec,
        reader: new FrameReader(rec),
        role: "dialer",
        localName: name,
        password: PW,
        remoteAddress: "127.0.0.99",
        expectedPeer: listenerName,
      }),
      runHandshake({
        stream: ls,
        reader: new FrameReader(ls),
        role: "listener",
        localName: listenerName,
        password: PW,
        remoteAddress: "127.0.0.1",
        admit: () => null,
      }),
    ]);
  } finally {
    d.close();
    ls.close();
    l.close();
  }
  return replay;
}

Deno.test({
  ...opts,
  name: "fuzz: thousands of malformed inputs at one manager while the mesh keeps talking",
  async fn() {
    const nodes = mesh(91, ["fz-1", "fz-2", "fz-3"], {
      handshakeTimeoutMs: 1000,
      deadAfterMs: 3000,
    });
    const [target] = nodes;
    const ids = (n: Node) =>
      JSON.stringify(Object.values(n.pc.status().peers).map((p) => p.sessionId));
    try {
      nodes.forEach((n) => n.pc.start());
      await until("full mesh", () => fullMesh(nodes));
      const sessionIds = nodes.map(ids);
      const replay = await recordHandshake("fz-2", "fz-1");

      // Message flow across the mesh during the attack.
      let stop = false;
      let seq = 0;
      const flow = (async () => {
        while (!stop) {
          for (const a of nodes) {
            for (const b of nodes) if (a !== b) a.pc.send(b.name, { type: "ping", n: seq });
          }
          seq++;
          await sleep(20);
        }
      })();

      const list = attacks(3000, replay, "127.0.0.92", "127.0.0.93");
      const t0 = Date.now();
      // Few at a time, so most inputs get past the per-source cap to the parsers; slow writers
      // and silent connections in their own lane...
      const slow = list.filter((a) => a.source === "127.0.0.93");
      const fast = list.filter((a) => a.source !== "127.0.0.93");
      const lane = (items: Attack[], width: number) =>
        Promise.all(Array.from({ length: width }, async () => {
          for (let a = items.shift(); a; a = items.shift()) await launch("127.0.0.91", a);
        }));
      await Promise.all([lane(fast, 6), lane(slow, 6)]);
      // ...then a burst of idle connections, which the caps on unauthenticated connections stop.
      await Promise.all(Array.from({ length: 80 }, (_, i) =>
        launch("127.0.0.91", {
          kind: "idle burst",
          source: i % 2 ? "127.0.0.92" : "127.0.0.93",
          chunks: [encodeHeader().slice(0, 3)],
          holdMs: 1500,
        })));
      const elapsed = Date.now() - t0;
      await sleep(1500); // slow writers time out
      stop = true;
      await flow;

      // The mesh stayed up: same sessions as before, no session-down, messages kept flowing.
      for (const [i, n] of nodes.entries()) {
        strictEqual(n.downs.length, 0, `${n.name} lost a session: ${JSON.stringify(n.downs)}`);
        strictEqual(ids(n), sessionIds[i]);
      }
      const pings = (n: Node, from: string) =>
        n.messages.filter((m) => m.peer === from && m.msg.type === "ping").length;
      for (const a of nodes) {
        for (const b of nodes) {
          if (a !== b) {
            assert(
              pings(a, b.name) > seq / 2,
              `${a.name}<-${b.name}: ${pings(a, b.name)} of ${seq}`,
            );
          }
        }
      }

      const drops = target.pc.status().drops;
      for (
        const r of [
          "bad-header",
          "bad-version",
          "garbage",
          "truncated",
          "oversize",
          "timeout",
          "unknown-peer",
          "auth",
          "too-many-pending",
        ] as const
      ) {
        assert(drops[r] > 0, `no ${r} drops: ${JSON.stringify(drops)}`);
      }
      const total = Object.values(drops).reduce((a, b) => a + b, 0);
      assert(total >= 2500, `total=${total} ${JSON.stringify(drops)}`);
      strictEqual(target.pc.status().pendingHandshakes, 0);
      // Logging stayed bounded by the rate limiter.
      assert(target.logs.length < 200, `${target.logs.length} log lines`);
      console.log(`fuzz: ${list.length} inputs in ${elapsed} ms, drops ${JSON.stringify(drops)}`);
    } finally {
      await closeAll(nodes);
    }
  },
});

/** Data segments that reached `src` from `dst` over their connection, as the kernel counts them. */
async function segmentsIn(src: string, dst: string): Promise<number> {
  const o = await new Deno.Command("ss", {
    args: ["-tinH", "state", "established", "src", src, "dst", dst],
    stdout: "piped",
  }).output();
  const m = /segs_in:(\d+)/.exec(new TextDecoder().decode(o.stdout));
  if (!m) throw new Error(`no connection ${src} <- ${dst} in ss`);
  return Number(m[1]);
}

Deno.test({
  ...opts,
  name:
    "frames sent in one turn leave in one write: one TCP segment; a bigger burst arrives whole and in order",
  async fn() {
    // ob-a decides: its first heartbeat goes out at session up, the next one 20 s later, and
    // neither side's silence deadline comes near: nothing else crosses while we count.
    const b = makeNode("ob-a", "127.0.0.151", {
      peers: [{ name: "ob-b", address: "127.0.0.152", port: PORT }],
      heartbeatMs: 20_000,
      deadAfterMs: 60_000,
      deferDialMs: 10_000,
    });
    b.pc.start();
    const raw = await rawSessionWith(b.address, "127.0.0.152", "ob-b", "ob-a");
    try {
      await until("session", () => up(b, "ob-b"));
      await sleep(200);
      const before = await segmentsIn("127.0.0.152", b.address);
      const got: { n: number; pad: unknown }[] = [];
      const readProbes = async (count: number) => {
        while (got.length < count) {
          const body = await raw.reader.frame(MAX_FRAME_BYTES, TAG_BYTES);
          if (body === null) throw new Error("connection closed");
          const m = raw.hs.channel.open(body);
          if (m.type === "probe" && typeof m.n === "number") got.push({ n: m.n, pad: m.pad });
        }
      };
      for (let i = 0; i < 3; i++) b.pc.send("ob-b", { type: "probe", n: i });
      await readProbes(3);
      deepStrictEqual(got.map((g) => g.n), [0, 1, 2]);
      await sleep(100);
      strictEqual(await segmentsIn("127.0.0.152", b.address) - before, 1, "one segment");
      // A burst bigger than one write's batch: in several writes, every frame whole and in order.
      const pad = "x".repeat(6000);
      for (let i = 0; i < 10; i++) b.pc.send("ob-b", { type: "probe", n: 10 + i, pad });
      await readProbes(13);
      deepStrictEqual(got.slice(3), Array.from({ length: 10 }, (_, i) => ({ n: 10 + i, pad })));
    } finally {
      raw.stream.close();
      await closeAll([b]);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "a slow handshake that keeps moving completes; its deadline counts from the peer's last bytes",
  async fn() {
    // Every chunk between the two crosses a proxy that holds it 250 ms: the handshake's few
    // round trips take well over the 600 ms deadline in all, but the peer is never silent for
    // 600 ms (a starved box: every step slow, none stuck). A fixed deadline failed every try.
    const proxyAddress = "127.0.0.163";
    const [a, b] = [
      makeNode("slow-a", "127.0.0.161", {
        handshakeTimeoutMs: 600,
        peers: [{ name: "slow-b", address: proxyAddress, port: PORT }],
      }),
      makeNode("slow-b", "127.0.0.162", {
        handshakeTimeoutMs: 600,
        deferDialMs: 60_000, // only slow-a dials, through the proxy
        peers: [{ name: "slow-a", address: "127.0.0.161", port: PORT }],
      }),
    ];
    const listener = Deno.listen({ hostname: proxyAddress, port: PORT });
    const conns = new Set<ByteStream>();
    const pump = async (from: ByteStream, to: ByteStream) => {
      const buf = new Uint8Array(65536);
      try {
        for (let n = await from.read(buf); n !== null; n = await from.read(buf)) {
          const chunk = buf.slice(0, n);
          await sleep(250);
          await to.write(chunk);
        }
      } catch { /* either end closed */ }
      from.close();
      to.close();
    };
    const pumps: Promise<void>[] = [];
    const proxying = (async () => {
      for await (const conn of listener) {
        const inner = new DenoConnStream(conn);
        // To slow-b from slow-a's address: slow-b admits slow-a only from there.
        const outer = await dialTcp({
          hostname: "127.0.0.162",
          port: PORT,
          localAddress: "127.0.0.161",
          timeoutMs: 2000,
        });
        conns.add(inner).add(outer);
        pumps.push(pump(inner, outer), pump(outer, inner));
      }
    })().catch(() => {});
    try {
      a.pc.start();
      b.pc.start();
      await until("a session through the slow proxy", () => up(a, "slow-b") && up(b, "slow-a"));
      sameSession(a, b);
      const tries = a.pc.status().peers["slow-b"].dials;
      assert(tries <= 2, `slow-a dialled ${tries} times`);
    } finally {
      await closeAll([a, b]);
      listener.close();
      for (const c of conns) c.close();
      await proxying;
      await Promise.all(pumps);
    }
  },
});
