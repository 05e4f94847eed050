/**
 * Rekey inside real managers over loopback TCP: sessions rekey on the live control connection
 * without going down, messages keep flowing across the switches of the control keys, both ends
 * hand the same new per-purpose keys to their datapaths in make-before-break order; a peer that
 * does not rekey is cut off at reject_after.
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import { Logger } from "../ops/log.ts";
import type { SessionKeysEvent } from "./options.ts";
import { PeerConnections, type PeerConnectionsOptions } from "./peer_connections.ts";

const PW = new TextEncoder().encode("rekey test password 4410");
const PORT = 20000 + Math.floor(Math.random() * 20000);
const opts = { sanitizeOps: true, sanitizeResources: true };

interface Box {
  name: string;
  pc: PeerConnections;
  keys: SessionKeysEvent[];
  downs: string[];
  got: number[];
  logs: string[];
}

function box(
  name: string,
  me: string,
  peer: string,
  peerAddr: string,
  o: Partial<PeerConnectionsOptions>,
): Box {
  const b: Box = { name, pc: null!, keys: [], downs: [], got: [], logs: [] };
  b.pc = new PeerConnections({
    localName: name,
    listenAddress: me,
    listenPort: PORT,
    peers: [{ name: peer, address: peerAddr, port: PORT }],
    password: PW,
    logger: new Logger(name, "info", "text", (l) => b.logs.push(l)),
    heartbeatMs: 150,
    deadAfterMs: 3000,
    handshakeTimeoutMs: 3000,
    backoffBaseMs: 50,
    backoffMaxMs: 500,
    deferDialMs: 50,
    // A copy: the control plane wipes its datapath keys once the datapaths took theirs.
    onSessionKeys: (e) => void b.keys.push(structuredClone(e)),
    onSessionDown: (e) => b.downs.push(e.reason),
    onMessage: (e) => {
      if (e.msg.type === "ping" && typeof e.msg.n === "number") b.got.push(e.msg.n);
    },
    ...o,
  });
  return b;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
const peerOf = (b: Box) => Object.values(b.pc.status().peers)[0];

const FAST_REKEY = {
  rekeyAfterMs: 1200,
  rejectAfterMs: 6000,
  exchangeTimeoutMs: 2000,
  oldKeysGraceMs: 300,
};

Deno.test({
  ...opts,
  name:
    "rekey on a live session: no session-down, messages flow across the switches, same keys on both ends",
  async fn() {
    const a = box("r-a", "127.0.0.171", "r-b", "127.0.0.172", { rekey: FAST_REKEY });
    const b = box("r-b", "127.0.0.172", "r-a", "127.0.0.171", { rekey: FAST_REKEY });
    try {
      a.pc.start();
      b.pc.start();
      await until("up", () => peerOf(a)?.state === "up" && peerOf(b)?.state === "up");
      const session = peerOf(a).sessionId;
      let n = 0, stop = false;
      const flow = (async () => {
        while (!stop) {
          a.pc.send("r-b", { type: "ping", n });
          b.pc.send("r-a", { type: "ping", n });
          n++;
          await sleep(25);
        }
      })();
      const switches = (x: Box) => x.keys.filter((k) => k.action.type === "switch-tx").length;
      await until("three rekeys on both", () => switches(a) >= 3 && switches(b) >= 3);
      stop = true;
      await flow;
      await until("last pings", () => a.got.length === n && b.got.length === n, 3000);
      // Nothing lost or reordered on the control channel, no session-down, same session.
      deepStrictEqual(a.got, Array.from({ length: n }, (_, i) => i));
      deepStrictEqual(b.got, a.got);
      deepStrictEqual([a.downs, b.downs, peerOf(a).sessionId], [[], [], session]);
      // status: which password, how old the keys, how many rekeys.
      const st = peerOf(a);
      strictEqual(
        (st.rekeys ?? 0) >= 3 && st.password === "current" && (st.keyAgeSeconds ?? 99) <= 2,
        true,
        JSON.stringify({ rekeys: st.rekeys, password: st.password, age: st.keyAgeSeconds }),
      );
      // Both ends installed the same keys per epoch, receive side before send side.
      const installs = (x: Box) =>
        x.keys.flatMap((
          k,
        ) => (k.action.type === "install-rx" ? [[k.action.epoch, k.action.keys]] : []));
      const ia = installs(a), ib = installs(b);
      strictEqual(ia.length >= 3, true, `${ia.length} installs`);
      deepStrictEqual(ia.slice(0, 3), ib.slice(0, 3));
      for (const x of [a, b]) {
        const order = x.keys.filter((k) => k.action.epoch === 1).map((k) => k.action.type);
        deepStrictEqual(order, ["install-rx", "switch-tx", "drop-old"], x.name);
      }
    } finally {
      await Promise.all([a.pc.close(), b.pc.close()]);
    }
  },
});

Deno.test({
  ...opts,
  name: "rekey: a peer that never rekeys is cut off at reject_after",
  async fn() {
    // r-c has rekeys off (it neither starts nor answers one); r-d keeps the timers.
    const quick = {
      rekeyAfterMs: 500,
      rejectAfterMs: 1500,
      exchangeTimeoutMs: 400,
      oldKeysGraceMs: 300,
    };
    const c = box("r-c", "127.0.0.173", "r-d", "127.0.0.174", { rekey: false });
    const d = box("r-d", "127.0.0.174", "r-c", "127.0.0.173", { rekey: { ...quick } });
    try {
      c.pc.start();
      d.pc.start();
      await until("down", () => d.downs.length > 0);
      strictEqual(
        /^session keys are \d+ s old \(reject_after 2 s\) and no rekey completed$/.test(d.downs[0]),
        true,
        d.downs[0],
      );
    } finally {
      await Promise.all([c.pc.close(), d.pc.close()]);
    }
  },
});

Deno.test({
  ...opts,
  name:
    "rekey: new passwords take effect on live sessions at once (previous during the rollout, then current)",
  async fn() {
    const slow = { rekeyAfterMs: 600_000, rejectAfterMs: 900_000 };
    const a = box("r-e", "127.0.0.175", "r-f", "127.0.0.176", { rekey: slow });
    const b = box("r-f", "127.0.0.176", "r-e", "127.0.0.175", { rekey: slow });
    const NEW = new TextEncoder().encode("the new fleet password 7");
    try {
      a.pc.start();
      b.pc.start();
      await until("up", () => peerOf(a)?.state === "up" && peerOf(b)?.state === "up");
      const session = peerOf(a).sessionId;
      a.pc.setPasswords(NEW, PW);
      await until("a on its previous", () => peerOf(a).rekeys === 1 && peerOf(b).rekeys === 1);
      deepStrictEqual([peerOf(a).password, peerOf(b).password], ["previous", "current"]);
      b.pc.setPasswords(NEW, PW);
      await until("both on current", () => peerOf(a).rekeys === 2 && peerOf(b).rekeys === 2);
      deepStrictEqual([peerOf(a).password, peerOf(b).password], ["current", "current"]);
      deepStrictEqual([a.downs, b.downs, peerOf(a).sessionId], [[], [], session]);
    } finally {
      await Promise.all([a.pc.close(), b.pc.close()]);
    }
  },
});
