import { strictEqual } from "node:assert";
import {
  announcedPeriodMs,
  FULL_RATE_PEERS,
  heartbeatPeriodMs,
  MAX_HEARTBEAT_FACTOR,
  stretchedSilenceMs,
} from "./heartbeat_period.ts";

Deno.test("heartbeat period: the base up to 40 peers, then 40 heartbeats per base period, capped", () => {
  strictEqual(FULL_RATE_PEERS, 40);
  for (
    const [peers, ms] of [[0, 2000], [1, 2000], [40, 2000], [50, 2500], [99, 4950], [100, 5000]]
  ) {
    strictEqual(heartbeatPeriodMs(2000, peers), ms, `${peers} peers`);
  }
  strictEqual(heartbeatPeriodMs(2000, 300), 2000 * MAX_HEARTBEAT_FACTOR);
  strictEqual(heartbeatPeriodMs(2000, 10_000), 15_000, "capped at 15 s");
  // A test's short base stretches alike, relative to itself.
  strictEqual(heartbeatPeriodMs(150, 80), 300);
  // Heartbeats per second sent by a box stay bounded however many peers it has.
  for (const peers of [40, 100, 200, 300]) {
    const perSecond = peers / (heartbeatPeriodMs(2000, peers) / 1000);
    strictEqual(perSecond <= 20 + 1e-9, true, `${peers} peers: ${perSecond}/s`);
  }
});

Deno.test("heartbeat period: an announced period is clamped; none or garbage is the base", () => {
  strictEqual(announcedPeriodMs(5000, 2000), 5000);
  strictEqual(announcedPeriodMs(undefined, 2000), 2000, "a build before the stretch");
  strictEqual(announcedPeriodMs("5000", 2000), 2000);
  strictEqual(announcedPeriodMs(NaN, 2000), 2000);
  strictEqual(announcedPeriodMs(Infinity, 2000), 2000);
  strictEqual(announcedPeriodMs(10, 2000), 2000, "never below our own base");
  strictEqual(announcedPeriodMs(1e9, 2000), 15_000, "a peer cannot keep a dead session for long");
});

Deno.test("heartbeat period: silences stretch with the period, never shrink", () => {
  strictEqual(stretchedSilenceMs(12_000, 2000, 2000), 12_000);
  strictEqual(stretchedSilenceMs(12_000, 5000, 2000), 30_000);
  strictEqual(stretchedSilenceMs(4500, 5000, 2000), 11_250);
  strictEqual(stretchedSilenceMs(4500, 150, 2000), 4500, "a shorter period keeps the silence");
});
