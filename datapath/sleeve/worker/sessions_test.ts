import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { type Aead, createAead } from "../aead.ts";
import type { WorkerSession } from "./messages.ts";
import {
  admitSend,
  PeerSessions,
  RetiredKeys,
  SEND_OK,
  SEND_REFUSED,
  SEND_REKEY_DUE,
  sessionLimits,
} from "./sessions.ts";
import { MAX_SESSIONS_PER_PEER } from "./constants.ts";

let freed = 0;
/** An AEAD that counts when it is freed. */
function counted(a: Aead): Aead {
  return {
    seal: (n, aad, p, out, len) => a.seal(n, aad, p, out, len),
    open: (n, aad, c, out, len) => a.open(n, aad, c, out, len),
    free: () => {
      freed++;
      a.free();
    },
  };
}
function sessions(): PeerSessions {
  return new PeerSessions(new RetiredKeys(16), (ws) => ({
    tx: counted(createAead(ws.aead, ws.tx, "noble")),
    rx: counted(createAead(ws.aead, ws.rx, "noble")),
  }));
}

function session(localIndex: number, key: number, remoteIndex = 100 + localIndex): WorkerSession {
  return {
    fingerprint: `fp-${key}`,
    localIndex,
    remoteIndex,
    tx: new Uint8Array(32).fill(key),
    rx: new Uint8Array(32).fill(key + 1),
    txDirection: 0,
    aead: "chacha20-poly1305",
  };
}

const indices = (p: PeerSessions) => p.receivable.map((s) => s.localIndex);

Deno.test("sessions: the same keys with a new remote index keep their sequence and window", () => {
  const p = sessions();
  const a = p.install(session(1, 10));
  p.use(1);
  for (let i = 0; i < 5; i++) admitSend(a, 1400);
  a.window.commit(7);
  const again = p.install(session(1, 10, 999));
  strictEqual(again, a, "the same session object");
  deepStrictEqual({ txSeq: again.txSeq, top: again.window.highest, remote: again.remoteIndex }, {
    txSeq: 5,
    top: 7,
    remote: 999,
  });
});

Deno.test("sessions: make-before-break: both accepted during a switch, the sender moves when told", () => {
  const p = sessions();
  p.install(session(1, 10));
  p.use(1);
  p.install(session(2, 20));
  strictEqual(p.sending?.localIndex, 1, "installing does not move the sender");
  deepStrictEqual(indices(p), [1, 2]);
  ok(p.forIndex(1) && p.forIndex(2), "datagrams under both are accepted");
  p.use(2);
  strictEqual(p.sending?.localIndex, 2);
  ok(p.forIndex(1), "the previous one is still accepted after the switch");
  const before = freed;
  p.retire(1);
  strictEqual(freed - before, 2, "both keys of the retired session freed");
  strictEqual(p.forIndex(1), undefined, "nothing accepted under a retired session");
  deepStrictEqual(indices(p), [2]);
});

Deno.test("sessions: retired keys are never reused; a local index with other keys replaces it", () => {
  const p = sessions();
  p.install(session(1, 10));
  p.retire(1);
  throws(() => p.install(session(1, 10)), /retired and are never reused/);
  throws(() => p.install(session(3, 10)), /retired and are never reused/);
  const b = p.install(session(1, 30));
  strictEqual(b.txSeq, 0, "other keys start their own sequence");
  const c = p.install(session(1, 40));
  deepStrictEqual(p.receivable.map((s) => s.fingerprint), ["fp-40"]);
  strictEqual(c.localIndex, 1);
  throws(() => p.install(session(1, 30)), /retired/, "the replaced keys count as retired");
  throws(() => p.use(7), /session 7 is not installed/);
});

Deno.test("sessions: at most MAX_SESSIONS_PER_PEER; the oldest that is not sending goes", () => {
  const p = sessions();
  p.install(session(1, 10));
  p.use(1);
  for (let i = 2; i <= MAX_SESSIONS_PER_PEER + 1; i++) p.install(session(i, 10 * i));
  strictEqual(p.receivable.length, MAX_SESSIONS_PER_PEER);
  ok(p.forIndex(1), `the sending session stays: ${indices(p)}`);
  strictEqual(p.forIndex(2), undefined, `the oldest other one went: ${indices(p)}`);
});

Deno.test("sessions: rekey due once past the soft limit, nothing sealed past the hard one", () => {
  const p = sessions();
  const ws = { ...session(1, 10), limits: { rekeyAfterPackets: 3, rejectAfterPackets: 5 } };
  const s = p.install(ws);
  const verdicts = Array.from({ length: 7 }, () => admitSend(s, 100));
  deepStrictEqual(verdicts, [
    SEND_OK,
    SEND_OK,
    SEND_REKEY_DUE,
    SEND_OK,
    SEND_OK,
    SEND_REFUSED,
    SEND_REFUSED,
  ]);
  strictEqual(s.txSeq, 5, "no sequence number is consumed by a refused packet");
});

Deno.test("sessions: byte limits for AES-GCM; limits may only be lowered", () => {
  const gcm = sessionLimits("aes-256-gcm");
  const chacha = sessionLimits("chacha20-poly1305");
  ok(gcm.rejectAfterBytes <= 2 ** 38.5, `AES-GCM bytes per key ${gcm.rejectAfterBytes}`);
  ok(gcm.rekeyAfterBytes < gcm.rejectAfterBytes, JSON.stringify(gcm));
  ok(chacha.rejectAfterPackets < Number.MAX_SAFE_INTEGER, JSON.stringify(chacha));
  ok(chacha.rekeyAfterPackets < chacha.rejectAfterPackets, JSON.stringify(chacha));
  strictEqual(
    sessionLimits("aes-256-gcm", { rejectAfterBytes: 2 ** 60 }).rejectAfterBytes,
    gcm.rejectAfterBytes,
  );
  const p = sessions();
  const s = p.install({
    ...session(1, 10),
    limits: { rekeyAfterBytes: 1000, rejectAfterBytes: 2000 },
  });
  deepStrictEqual([admitSend(s, 999), admitSend(s, 1), admitSend(s, 1000), admitSend(s, 1)], [
    SEND_OK,
    SEND_REKEY_DUE,
    SEND_OK,
    SEND_REFUSED,
  ]);
});
