/** When the deciding side's heartbeat tick sends a heartbeat (`heartbeatDue`). */

import { strictEqual } from "node:assert";
import { heartbeatDue, MAX_SKIPPED_HEARTBEATS } from "./session.ts";

const P = 2000;
const NOW = 1_000_000;
/** A session that carried other frames both ways 100 ms ago and announced P. */
const busy = {
  lastOtherRx: NOW - 100,
  lastOtherTx: NOW - 100,
  announcedMs: P,
  skippedHeartbeats: 0,
};

Deno.test("a session busy both ways within the period skips the heartbeat", () => {
  strictEqual(heartbeatDue(busy, NOW, P), false);
});

Deno.test("traffic one way only, or older than a period, does not replace a heartbeat", () => {
  strictEqual(heartbeatDue({ ...busy, lastOtherRx: -Infinity }, NOW, P), true);
  strictEqual(heartbeatDue({ ...busy, lastOtherTx: -Infinity }, NOW, P), true);
  strictEqual(heartbeatDue({ ...busy, lastOtherRx: NOW - P }, NOW, P), true);
  strictEqual(heartbeatDue({ ...busy, lastOtherTx: NOW - P - 1 }, NOW, P), true);
});

Deno.test("the first heartbeat and a changed period are always sent (the peer judges by it)", () => {
  strictEqual(heartbeatDue({ ...busy, announcedMs: null }, NOW, P), true);
  strictEqual(heartbeatDue({ ...busy, announcedMs: P }, NOW, 2 * P), true);
});

Deno.test("a busy session still heartbeats every MAX_SKIPPED_HEARTBEATS + 1 ticks", () => {
  const s = { ...busy };
  const sentAt: number[] = [];
  for (let tick = 0; tick < 3 * (MAX_SKIPPED_HEARTBEATS + 1); tick++) {
    if (heartbeatDue(s, NOW, P)) {
      sentAt.push(tick);
      s.skippedHeartbeats = 0;
    } else s.skippedHeartbeats++;
  }
  const k = MAX_SKIPPED_HEARTBEATS + 1;
  strictEqual(sentAt.join(" "), [k - 1, 2 * k - 1, 3 * k - 1].join(" "));
});
