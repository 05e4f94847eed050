/**
 * The rekey state machine, two ends wired back to back with an injected clock: the exchange
 * and its make-before-break order, timers (rekey due, keys expired, stalled exchanges, old keys
 * dropped), moving from the previous to the current password, mismatches and garbage.
 */

import { deepStrictEqual, notDeepStrictEqual, strictEqual, throws } from "node:assert";
import type { CoreOptions, PasswordSet } from "./handshake_core.ts";
import { parseRekeyMessage, type RekeyAction, RekeyMachine, type RekeyMessage } from "./rekey.ts";

const te = new TextEncoder();
const A = te.encode("password A of the fleet"), B = te.encode("password B of the fleet");

/** Initiator "alpha" (it dialled) and responder "beta", with a shared fake clock. */
function pair(pwI: PasswordSet, pwR: PasswordSet, opts = {}) {
  const clock = { now: 0 };
  const th = crypto.getRandomValues(new Uint8Array(32));
  const mk = (role: "initiator" | "responder", name: string, peer: string, pw: () => PasswordSet) =>
    new RekeyMachine({
      role,
      peerName: peer,
      transcriptHash: th,
      establishedAt: 0,
      coreOptions: (): CoreOptions => ({ localName: name, passwords: pw() }),
      ...opts,
    });
  const cfg = { i: pwI, r: pwR };
  const i = mk("initiator", "alpha", "beta", () => cfg.i);
  const r = mk("responder", "beta", "alpha", () => cfg.r);
  const log: { side: "I" | "R"; a: RekeyAction }[] = [];
  /** Delivers sends to the other side until quiet; records every other action in order. */
  const run = (side: "I" | "R", actions: RekeyAction[]) => {
    const queue: ["I" | "R", RekeyAction][] = actions.map((a) => [side, a]);
    while (queue.length) {
      const [from, a] = queue.shift()!;
      // A copy: the machine wipes its datapath keys once they are handed over.
      log.push({ side: from, a: structuredClone(a) });
      if (a.type !== "send") continue;
      const to = from === "I" ? r : i;
      for (const b of to.receive(a.msg, clock.now)) queue.push([from === "I" ? "R" : "I", b]);
    }
  };
  const tick = (ms: number) => {
    clock.now = ms;
    run("I", i.tick(ms));
    run("R", r.tick(ms));
  };
  return { i, r, log, tick, run, clock, cfg };
}

const summary = (log: { side: string; a: RekeyAction }[]) =>
  log.map(({ side, a }) => `${side} ${a.type}${a.type === "send" ? ` ${a.msg.step}` : ""}`);

Deno.test("rekey: at rekeyAfter the initiator runs the exchange; keys installed make-before-break", () => {
  const p = pair({ current: A }, { current: A });
  p.tick(119_999);
  strictEqual(p.log.length, 0, JSON.stringify(summary(p.log)));
  p.tick(120_000);
  deepStrictEqual(summary(p.log), [
    "I send 1",
    "R send 2",
    "I send 3",
    "R install-rx", // R accepts the new keys before anyone sends with them
    "R control-rx", // and I's control messages under its new key (the old key still opens)
    "R send 4",
    "R control-tx",
    "I install-rx",
    "I control-rx",
    "I switch-tx", // I sends under the new keys only once R accepts them
    "I send 5",
    "I control-tx",
    "R switch-tx",
    "R send 6", // R no longer sends under the old keys: I may drop them after the grace
  ]);
  const inst = p.log.filter((l) => l.a.type === "install-rx").map((l) => l.a);
  // Both ends hold the same new keys, with fresh indices.
  deepStrictEqual(inst[0], inst[1]);
  const keys = inst[0].type === "install-rx" ? inst[0].keys : null;
  strictEqual(keys !== null && keys.dialerIndex !== 0 && keys.listenerIndex !== 0, true);
  // The control keys of each direction are the new ones, agreed by both.
  const ctl = (side: string, t: string) =>
    p.log.find((l) => l.side === side && l.a.type === t)!.a as { key: Uint8Array };
  deepStrictEqual(ctl("R", "control-tx").key, ctl("I", "control-rx").key);
  deepStrictEqual(ctl("I", "control-tx").key, ctl("R", "control-rx").key);
  notDeepStrictEqual(ctl("I", "control-tx").key, ctl("R", "control-tx").key);
  deepStrictEqual([p.i.epoch, p.r.epoch, p.i.rekeys, p.i.keyAgeMs(125_000)], [1, 1, 1, 5_000]);
  // The old receive keys go after the grace period, on both ends.
  p.log.length = 0;
  p.tick(124_999);
  strictEqual(p.log.length, 0, JSON.stringify(summary(p.log)));
  p.tick(125_000);
  deepStrictEqual(summary(p.log), ["I drop-old", "R drop-old"]);
});

Deno.test("rekey: every rekey makes new keys, chained; the session never expires while it rekeys", () => {
  const p = pair({ current: A }, { current: A });
  const seen = new Set<string>();
  for (let t = 0; t <= 1_000_000; t += 1_000) p.tick(t);
  for (const l of p.log) {
    if (l.side === "I" && l.a.type === "install-rx") seen.add(JSON.stringify(l.a.keys));
    strictEqual(l.a.type === "expire" || l.a.type === "failed", false, l.a.type);
  }
  strictEqual(p.i.rekeys, 8); // every 120 s over 1000 s
  strictEqual(seen.size, 8);
});

Deno.test("rekey: a lagging box waits longer for an answer, and a starved one starts on time", () => {
  // Stretch as the connection manager computes it from the loop lag (options.ts).
  const lag = { stretchMs: 2000 };
  const p = pair({ current: A }, { current: A }, { stretchMs: () => lag.stretchMs });
  p.clock.now = 120_000;
  deepStrictEqual(p.i.tick(120_000).map((a) => a.type), ["send"]); // lost
  // Unanswered: aborted at 10 s + the stretch, not at 10 s; retried as long after.
  deepStrictEqual(p.i.tick(131_999), []);
  deepStrictEqual(p.i.tick(132_000).map((a) => a.type), ["send", "aborted"]);
  deepStrictEqual(p.i.tick(143_999), []);
  deepStrictEqual(p.i.tick(144_000).map((a) => a.type === "send" ? a.msg.step : a.type), [1]);
  // However starved the box (timers 5 s late), a due rekey starts at rekeyAfter: waiting would
  // leave a stretched exchange too little time before rejectAfter, and a session that ends
  // there costs a full handshake to make again.
  const q = pair({ current: A }, { current: A }, { stretchMs: () => 20_000 });
  q.tick(119_999);
  strictEqual(q.log.length, 0);
  q.tick(120_000);
  strictEqual(q.i.rekeys, 1);
  strictEqual(q.r.rekeys, 1);
});

Deno.test("rekey: a peer that never rekeys is cut off at rejectAfter; options are validated", () => {
  const p = pair({ current: A }, { current: A });
  // The initiator never gets an answer (its messages are lost).
  p.clock.now = 120_000;
  const lost = p.i.tick(120_000);
  deepStrictEqual(lost.map((a) => a.type), ["send"]);
  const responder = p.r.tick(179_999);
  deepStrictEqual(responder, []);
  const r = p.r.tick(180_000);
  deepStrictEqual(r.map((a) => a.type), ["expire"]);
  strictEqual(
    r[0].type === "expire" && r[0].reason,
    "session keys are 180 s old (reject_after 180 s) and no rekey completed",
  );
  // The initiator aborted its unanswered attempt at 130 s (telling the peer) and retried at
  // 140 s.
  const i1 = p.i.tick(130_000), i2 = p.i.tick(139_999), i3 = p.i.tick(140_000);
  deepStrictEqual(
    [i1.map((a) => a.type === "send" ? `send ${a.msg.step}` : a.type), i2.length],
    [["send 7", "aborted"], 0],
  );
  deepStrictEqual(i3.map((a) => a.type === "send" ? `${a.msg.step}/${a.msg.attempt}` : a.type), [
    "1/2",
  ]);
  deepStrictEqual(p.i.tick(180_000).map((a) => a.type), ["expire"]);
  deepStrictEqual(p.i.tick(200_000), []);
  throws(
    () => pair({ current: A }, { current: A }, { rekeyAfterMs: 180_000 }),
    /rejectAfterMs \(180000\) must exceed rekeyAfterMs \(180000\)/,
  );
  throws(
    () => pair({ current: A }, { current: A }, { oldKeysGraceMs: 0 }),
    /oldKeysGraceMs must be > 0/,
  );
});

Deno.test("rekey: moves a session from the previous to the current password once both ends have it", () => {
  // Rollout: the initiator already has {B, previous A}; the responder still only A.
  const p = pair({ current: B, previous: A }, { current: A });
  p.tick(120_000);
  deepStrictEqual([p.i.password, p.r.password], ["previous", "current"]);
  // The responder gets B too: the next rekey uses B on both ends.
  p.cfg.r = { current: B, previous: A };
  p.tick(240_000);
  deepStrictEqual([p.i.password, p.r.password, p.i.rekeys], ["current", "current", 2]);
  // A box whose password changed to one the peer lacks: the rekey fails; old keys until expiry.
  p.cfg.r = { current: te.encode("a third password, C") };
  p.log.length = 0;
  p.tick(360_000);
  const failed = p.log.filter((l) => l.a.type === "failed");
  deepStrictEqual(failed.map((l) => l.side), ["R", "I"]);
  const e = failed[1].a.type === "failed" ? failed[1].a.error : null;
  strictEqual(e?.message, "password mismatch with peer beta");
  strictEqual(p.i.epoch, 2);
  p.tick(360_000 + 60_000 - 1);
  const end = p.log.filter((l) => l.a.type === "expire").map((l) => l.side);
  deepStrictEqual(end, []);
  p.tick(420_000);
  deepStrictEqual(p.log.filter((l) => l.a.type === "expire").map((l) => l.side), ["I", "R"]);
});

Deno.test("rekey: the responder may ask; misfits are ignored, garbage aborts the attempt", () => {
  const p = pair({ current: A }, { current: A });
  p.clock.now = 1_000;
  p.run("R", p.r.requestRekey(1_000));
  strictEqual(p.i.rekeys, 1);
  strictEqual(p.i.keyAgeMs(1_000), 0);
  const ignored: RekeyMessage[] = [
    { type: "rekey", step: 3, epoch: 2, attempt: 9 }, // out of step
    { type: "rekey", step: 1, epoch: 5, attempt: 9 }, // wrong epoch
    { type: "rekey", step: 1, epoch: 2, attempt: 1 }, // an attempt already taken
    { type: "rekey", step: 7, epoch: 2, attempt: 9 }, // abort of nothing in progress
    { type: "rekey", step: 2, epoch: 2, attempt: 9 }, // a step the responder never takes
  ];
  for (const m of ignored) {
    const out = p.r.receive(m, 2_000);
    deepStrictEqual(out.map((a) => a.type), ["ignored"], JSON.stringify(m));
  }
  strictEqual(p.r.ignored, ignored.length);
  const garbage: RekeyMessage[] = [
    { type: "rekey", step: 1, epoch: 2, attempt: 2, records: "!!" }, // not base64
    { type: "rekey", step: 1, epoch: 2, attempt: 3, records: btoa("\x01\x00\x09abc") },
  ];
  for (const m of garbage) {
    const out = p.r.receive(m, 2_000);
    // The responder tells the initiator it gave the attempt up, and nothing is in progress.
    deepStrictEqual(
      out.map((a) => a.type === "send" ? `send ${a.msg.step}/${a.msg.attempt}` : a.type),
      [`send 7/${m.attempt}`, "failed"],
      JSON.stringify(m),
    );
    strictEqual(p.r.pendingStep, null);
  }
  // The initiator never accepts a step 1 (it is the initiator).
  deepStrictEqual(
    p.i.receive({ type: "rekey", step: 1, epoch: 2, attempt: 5 }, 2_000).map((a) => a.type),
    ["ignored"],
  );
  // Malformed messages do not parse at all.
  for (
    const m of [
      { type: "rekey", step: 8, epoch: 2, attempt: 1 },
      { type: "rekey", step: 1, epoch: 2 },
      { type: "rekey", step: 0, epoch: 2, attempt: 1 },
      { type: "rekey", step: 7, epoch: 2, attempt: 1, reason: "x".repeat(201) },
      { type: "rekey", step: 1, epoch: -1, attempt: 1 },
    ]
  ) strictEqual(parseRekeyMessage(m), null, JSON.stringify(m));
});

Deno.test("rekey: an early rekey asked for during an exchange starts once that one is done", () => {
  for (const asker of ["I", "R"] as const) {
    const p = pair({ current: A }, { current: A });
    p.clock.now = 1_000;
    // I starts; the messages are delivered by hand so the request falls inside the exchange.
    const one = p.i.requestRekey(1_000);
    const m = (a: RekeyAction[]) => a.filter((x) => x.type === "send").map((x) => x.msg);
    const two = m(p.r.receive(m(one)[0], 1_000));
    const three = m(p.i.receive(two[0], 1_000));
    const four = m(p.r.receive(three[0], 1_000));
    const five = m(p.i.receive(four[0], 1_000));
    // The passwords change now, on one end, in the middle of the exchange (I waits for 6).
    const asked = (asker === "I" ? p.i : p.r).requestRekey(1_000);
    deepStrictEqual(asked, [], "nothing starts while an exchange runs");
    const six = m(p.r.receive(five[0], 1_000));
    if (asker === "R") {
      // R's exchange ended at 5: its request (step 0) goes out with 6.
      deepStrictEqual(six.map((x) => x.step), [6, 0]);
      p.i.receive(six[0], 1_000);
      p.run("I", p.i.receive(six[1], 1_000));
    } else {
      p.run("I", p.i.receive(six[0], 1_000));
    }
    deepStrictEqual([p.i.rekeys, p.r.rekeys], [2, 2], asker);
  }
});
