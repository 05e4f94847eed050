/**
 * Peers without a fixed address (#15), over real loopback TCP (each side on its own 127.0.0.x):
 * a dial-out-only box dials at once although the other side decides, and is never dialled; it
 * is admitted from an address no peer has, bound to its name only by proof of its key; an
 * impostor there without the key, or claiming a peer that has a fixed address, is refused and
 * the real session stays. A peer given by DNS name is resolved at every dial, never cached.
 */

import { deepStrictEqual, ok as assert, strictEqual } from "node:assert";
import { FrameReader } from "./frame_reader.ts";
import { runHandshake } from "./handshake.ts";
import { generateNodeKey } from "./node_key.ts";
import { Logger } from "../ops/log.ts";
import { PeerConnections, type PeerConnectionsOptions } from "./peer_connections.ts";
import type { SessionUpEvent } from "./options.ts";
import { dialTcp } from "./tcp_stream.ts";

const PW = new TextEncoder().encode("dial-out test password of decent length 1515");
const PORT = 20000 + Math.floor(Math.random() * 20000);
const FAST = {
  heartbeatMs: 150,
  deadAfterMs: 1000,
  handshakeTimeoutMs: 1500,
  backoffBaseMs: 50,
  backoffMaxMs: 300,
  refusedBackoffMaxMs: 300,
};
const opts = { sanitizeOps: true, sanitizeResources: true };

interface Node {
  pc: PeerConnections;
  logs: string[];
  ups: SessionUpEvent[];
}

function node(name: string, address: string, o: Partial<PeerConnectionsOptions>): Node {
  const logs: string[] = [];
  const ups: SessionUpEvent[] = [];
  const pc = new PeerConnections({
    localName: name,
    listenAddress: address,
    listenPort: PORT,
    peers: [],
    password: PW,
    logger: new Logger(name, "debug", "text", (l) => logs.push(l)),
    onSessionUp: (e) => ups.push(e),
    ...FAST,
    ...o,
  });
  return { pc, logs, ups };
}

async function until(what: string, cond: () => boolean, timeoutMs = 8000): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

/** A dialer claiming `name` from `source`, with the password; its verdict. */
async function claim(target: string, source: string, name: string): Promise<string> {
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
      password: PW,
      nodeKey: generateNodeKey(),
      remoteAddress: target,
      expectedPeer: "edge-1",
    });
    return "handshake succeeded";
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    stream.close();
  }
}

Deno.test({
  ...opts,
  name: "dial-out only: it dials at once, is never dialled, and is bound by its key alone",
  async fn() {
    const k1 = generateNodeKey(), k2 = generateNodeKey();
    // edge-1 decides for the pair (its name sorts first); its deferral would hold a follower's
    // first dial for seconds: the dial-out-only edge-2 must not wait for it.
    const hub = node("edge-1", "127.0.0.121", {
      nodeKey: k1,
      deferDialMs: 5000,
      peers: [
        { name: "edge-2", address: "", port: PORT, key: k2.publicKey },
        { name: "edge-3", address: "127.0.0.124", port: PORT },
      ],
    });
    const box = node("edge-2", "127.0.0.122", {
      nodeKey: k2,
      dialOutOnly: true,
      deferDialMs: 5000,
      peers: [{ name: "edge-1", address: "127.0.0.121", port: PORT, key: k1.publicKey }],
    });
    try {
      hub.pc.start();
      box.pc.start();
      const ms = await until("edge-2 up", () => hub.pc.status().peers["edge-2"]?.state === "up");
      assert(ms < 2500, `edge-2 took ${ms} ms: it waited for the decider's deferral (5000 ms)`);
      const s = hub.pc.status().peers["edge-2"];
      deepStrictEqual([s.dials, hub.ups[0].remoteAddress], [0, "127.0.0.122"]);
      const session = s.sessionId;

      // From an address no peer has: without edge-2's key, refused; edge-3 has a fixed address.
      const noKey = await claim("127.0.0.121", "127.0.0.123", "edge-2");
      assert(/node key/.test(noKey), `impostor claiming edge-2: ${noKey}`);
      const fixed = await claim("127.0.0.121", "127.0.0.123", "edge-3");
      assert(/must connect from 127\.0\.0\.124/.test(fixed), `impostor claiming edge-3: ${fixed}`);
      const after = hub.pc.status().peers["edge-2"];
      deepStrictEqual([after.state, after.sessionId], ["up", session]);
    } finally {
      await Promise.all([hub.pc.close(), box.pc.close()]);
    }
  },
});

Deno.test({
  ...opts,
  name: "a peer given by DNS name is resolved at every dial, never cached",
  async fn() {
    let current = "127.0.0.132";
    const asked: string[] = [];
    const a = node("a-hub", "127.0.0.131", {
      peers: [{ name: "b-box", address: "", host: "b.weave.test", port: PORT }],
      resolve: (host) => {
        asked.push(host);
        return Promise.resolve([current]);
      },
    });
    const self = { name: "a-hub", address: "127.0.0.131", port: PORT };
    let b = node("b-box", "127.0.0.132", { peers: [self] });
    try {
      a.pc.start();
      b.pc.start();
      await until("b-box up", () => a.pc.status().peers["b-box"]?.state === "up");
      strictEqual(a.ups[0].remoteAddress, "127.0.0.132");
      // b-box moves: its name now gives another address.
      await b.pc.close();
      current = "127.0.0.133";
      b = node("b-box", "127.0.0.133", { peers: [self] });
      b.pc.start();
      await until("b-box up again", () => a.ups.length === 2);
      strictEqual(a.ups[1].remoteAddress, "127.0.0.133");
      assert(asked.length >= 2, `resolutions: ${asked.length}`);
      assert(
        a.logs.some((l) => /peer name resolved .*address=127\.0\.0\.133/.test(l)),
        a.logs.join("\n"),
      );
    } finally {
      await Promise.all([a.pc.close(), b.pc.close()]);
    }
  },
});
