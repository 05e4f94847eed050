/**
 * Who a connection is, played by an attacker against real managers over loopback TCP (#14,
 * #15): a process on a peer's box (same source address) that knows the fleet password claims
 * that peer's name with a missing, other or unproven node key, or guesses the password; the
 * real peer's session and state stay as they were, the log says "failed handshake from
 * <address>", while a genuine mismatch of the real peer (its key proved) still says
 * `password mismatch with peer <name> at <address>`. The handshake rate limit refuses bursts.
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import { x25519 } from "@noble/curves/ed25519.js";
import { Logger } from "../ops/log.ts";
import { FrameReader } from "./frame_reader.ts";
import { dialHandshake, type NodeKeyPair } from "./handshake.ts";
import { PeerConnections, type PeerConnectionsOptions } from "./peer_connections.ts";
import { dialTcp } from "./tcp_stream.ts";

const te = new TextEncoder();
const PW = te.encode("identity test password 8812");
const PORT = 20000 + Math.floor(Math.random() * 20000);
const FAST = {
  heartbeatMs: 150,
  deadAfterMs: 2000,
  handshakeTimeoutMs: 3000,
  backoffBaseMs: 50,
  backoffMaxMs: 500,
  deferDialMs: 50,
};
const opts = { sanitizeOps: true, sanitizeResources: true };

function nodeKey(): NodeKeyPair {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

interface Box {
  pc: PeerConnections;
  logs: string[];
  downs: string[];
  authFailed: string[];
}

/** "hub" on .base, "edge" on .base+1, each configured with the other (and its key). */
function pair(base: number, o: {
  keys?: boolean;
  hub?: Partial<PeerConnectionsOptions>;
  edge?: Partial<PeerConnectionsOptions>;
} = {}) {
  const keys = { hub: nodeKey(), edge: nodeKey() };
  const addr = { hub: `127.0.0.${base}`, edge: `127.0.0.${base + 1}` };
  const make = (name: "hub" | "edge", other: "hub" | "edge"): Box => {
    const b: Box = { pc: null!, logs: [], downs: [], authFailed: [] };
    b.pc = new PeerConnections({
      localName: name,
      listenAddress: addr[name],
      listenPort: PORT,
      peers: [{
        name: other,
        address: addr[other],
        port: PORT,
        key: o.keys ? keys[other].publicKey : null,
      }],
      password: PW,
      nodeKey: o.keys ? keys[name] : null,
      logger: new Logger(name, "info", "text", (l) => b.logs.push(l)),
      onSessionDown: (e) => b.downs.push(e.reason),
      onAuthFailed: (e) => b.authFailed.push(e.peer),
      ...FAST,
      ...o[name],
    });
    return b;
  };
  return { hub: make("hub", "edge"), edge: make("edge", "hub"), keys, addr };
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The attacker: dials `target` from `source` as `name`; returns how it ended. */
async function claim(
  target: string,
  source: string,
  name: string,
  o: { password?: Uint8Array; nodeKey?: NodeKeyPair | null } = {},
): Promise<string> {
  const stream = await dialTcp({
    hostname: target,
    port: PORT,
    localAddress: source,
    timeoutMs: 3000,
  });
  try {
    await dialHandshake({
      stream,
      reader: new FrameReader(stream),
      localName: name,
      password: o.password ?? PW,
      nodeKey: o.nodeKey ?? null,
      remoteAddress: target,
      expectedPeer: "hub",
    });
    return "handshake succeeded";
  } catch (e) {
    return e instanceof Error ? `${(e as { reason?: string }).reason}: ${e.message}` : String(e);
  } finally {
    stream.close();
  }
}

const stateOf = (b: Box) => Object.values(b.pc.status().peers)[0];

Deno.test({
  ...opts,
  name:
    "a box claiming another's name with the right password but the wrong key is refused; the real box is unaffected",
  async fn() {
    const p = pair(131, { keys: true });
    try {
      p.hub.pc.start();
      p.edge.pc.start();
      await until("up", () => stateOf(p.hub)?.state === "up" && stateOf(p.edge)?.state === "up");
      const session = stateOf(p.hub).sessionId;
      const impostor = nodeKey();
      const attempts = [
        [null, "peer edge must prove the node key weave.yaml gives it"],
        [impostor, "peer edge presented a node key other than the one in weave.yaml"],
        [
          { privateKey: impostor.privateKey, publicKey: p.keys.edge.publicKey },
          "peer edge failed to prove its node key",
        ],
      ] as const;
      for (const [key, why] of attempts) {
        strictEqual(
          await claim(p.addr.hub, p.addr.edge, "edge", { nodeKey: key }),
          `refused: peer hub at ${p.addr.hub} refused the connection: ${why}`,
        );
      }
      // The real edge: same session, still up, never marked, never down.
      const st = stateOf(p.hub);
      deepStrictEqual(
        {
          state: st.state,
          session: st.sessionId,
          authFailed: p.hub.authFailed,
          downs: p.edge.downs,
        },
        { state: "up", session, authFailed: [], downs: [] },
      );
      const failed = p.hub.logs.filter((l) => l.includes("failed handshake from"));
      strictEqual(failed.length, 3, p.hub.logs.join("\n"));
      strictEqual(
        failed[0].includes(
          `failed handshake from ${p.addr.edge} (claiming edge): ` + attempts[0][1],
        ),
        true,
        failed[0],
      );
      strictEqual(p.hub.logs.some((l) => l.includes("password mismatch")), false);
    } finally {
      await Promise.all([p.hub.pc.close(), p.edge.pc.close()]);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "a wrong password from an unproven connection never touches the peer; from the real peer it is a mismatch",
  async fn() {
    // Keyless peers: a process on edge's box guesses the password.
    const k = pair(141);
    try {
      k.hub.pc.start();
      k.edge.pc.start();
      await until("up", () => stateOf(k.hub)?.state === "up");
      const session = stateOf(k.hub).sessionId;
      strictEqual(
        await claim(k.addr.hub, k.addr.edge, "edge", { password: te.encode("guess 1") }),
        `auth: password mismatch with peer hub at ${k.addr.hub}`,
      );
      await until("logged", () => k.hub.logs.some((l) => l.includes("failed handshake from")));
      deepStrictEqual(
        {
          state: stateOf(k.hub).state,
          session: stateOf(k.hub).sessionId,
          marked: k.hub.authFailed,
        },
        { state: "up", session, marked: [] },
      );
      strictEqual(
        k.hub.logs.some((l) =>
          l.includes(
            `failed handshake from ${k.addr.edge} (claiming edge): password mismatch with peer edge`,
          )
        ),
        true,
        k.hub.logs.join("\n"),
      );
    } finally {
      await Promise.all([k.hub.pc.close(), k.edge.pc.close()]);
    }
    // The real edge, its key proved, with another password: a genuine mismatch on both ends.
    const m = pair(151, { keys: true, edge: { password: te.encode("edge has another password") } });
    try {
      m.hub.pc.start();
      m.edge.pc.start();
      const text = (b: Box, peer: string, at: string) =>
        b.logs.some((l) => l.includes(`password mismatch with peer ${peer} at ${at}`));
      await until(
        "mismatch on both",
        () => text(m.hub, "edge", m.addr.edge) && text(m.edge, "hub", m.addr.hub),
      );
      await until(
        "auth-failed",
        () => stateOf(m.hub).state === "auth-failed" && stateOf(m.edge).state === "auth-failed",
      );
    } finally {
      await Promise.all([m.hub.pc.close(), m.edge.pc.close()]);
    }
  },
});

Deno.test({
  ...opts,
  name: "handshake rate limit: a burst from one source is refused before any key exchange",
  async fn() {
    const p = pair(161, {
      hub: { handshakeRate: { burstPerSource: 2, perSourcePerSecond: 0.01 } },
      edge: { password: te.encode("not the hub's") }, // edge never gets a session: no dials count
    });
    try {
      p.hub.pc.start();
      const r = [];
      for (let i = 0; i < 4; i++) {
        r.push(await claim(p.addr.hub, p.addr.edge, "edge", { password: te.encode(`g${i}`) }));
      }
      deepStrictEqual(r, [
        `auth: password mismatch with peer hub at ${p.addr.hub}`,
        `auth: password mismatch with peer hub at ${p.addr.hub}`,
        `refused: peer hub at ${p.addr.hub} refused the connection: handshake rate limit (source-limit); retry later`,
        `refused: peer hub at ${p.addr.hub} refused the connection: handshake rate limit (source-limit); retry later`,
      ]);
      strictEqual(p.hub.pc.status().drops["too-many-pending"], 2);
    } finally {
      await Promise.all([p.hub.pc.close(), p.edge.pc.close()]);
    }
  },
});
