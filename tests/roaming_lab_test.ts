/**
 * Roaming (#15), with real agents: edge-2 has no address in weave.yaml (it dials out, listens
 * on every address) and carries a key. While numbered UDP streams run both ways over the
 * overlay, its underlay address is renumbered (a new DHCP lease: the new address added, the
 * old one removed). edge-1's sleeve follows edge-2's authenticated datagrams to the new address
 * at once, the control session is redialled from there, and the longest gap in either stream
 * stays under 10 s; edge-1's log says the endpoint changed, and its status shows the new one.
 */

import { strictEqual } from "node:assert";
import { below, includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { Lab } from "./lab/lab.ts";
import { allUp, startKeyedAgent, statusOf, waitForAll, writeKeyedFleet } from "./lab/nat.ts";

const RATE = 200;
const SECONDS = 20;
const COUNT = RATE * SECONDS;
/** When, into the streams, edge-2's address changes. */
const RENUMBER_AFTER_MS = 4000;
const NEW_ADDRESS = "10.254.0.77";

Deno.test("roaming lab: a box's underlay is renumbered under a running stream", LAB, async () => {
  await using lab = await Lab.create({ hosts: ["edge-1", "edge-2"] });
  const e1 = lab.host("edge-1"), e2 = lab.host("edge-2");
  const configs = await writeKeyedFleet(
    lab,
    [
      { name: "edge-1", address: e1.address },
      { name: "edge-2" },
    ],
    "roaming lab test password, long enough for the strength check 4242",
    [
      "nat_keepalive: 2s",
    ],
  );
  try {
    const a1 = await startKeyedAgent(lab, e1, configs);
    const a2 = await startKeyedAgent(lab, e2, configs);
    await a1.waitForLog(/agent up/, 60_000);
    await a2.waitForLog(/agent up/, 60_000);
    const up = await waitForAll(
      lab,
      [e1, e2],
      (s) => allUp(s) && s.peers.every((p) => p.datapath === "sleeve"),
      60_000,
    );
    const o1 = up.get("edge-1")!.networks[0].address;
    const o2 = up.get("edge-2")!.networks[0].address;
    const before = up.get("edge-1")!.peers[0].learnedEndpoint?.endpoint;
    includes(before ?? "", `${e2.address}:`, "edge-2's endpoint before");

    const stream = `${Lab.repoRoot}/tests/tools/udp_stream.py`;
    const secs = String(SECONDS / 2);
    const r2 = await lab.spawn(e2, ["python3", stream, "recv", o2, "7001", String(COUNT), secs], {
      logFile: "recv-edge-2.log",
    });
    const r1 = await lab.spawn(e1, ["python3", stream, "recv", o1, "7002", String(COUNT), secs], {
      logFile: "recv-edge-1.log",
    });
    await r2.waitForLog(/listening/, 10_000);
    await r1.waitForLog(/listening/, 10_000);
    const s12 = await lab.spawn(e1, [
      "python3",
      stream,
      "send",
      o2,
      "7001",
      String(COUNT),
      String(RATE),
    ], {
      logFile: "send-edge-1.log",
    });
    const s21 = await lab.spawn(e2, [
      "python3",
      stream,
      "send",
      o1,
      "7002",
      String(COUNT),
      String(RATE),
    ], {
      logFile: "send-edge-2.log",
    });
    await new Promise((r) => setTimeout(r, RENUMBER_AFTER_MS));
    // A new lease: the new address first, then the old one goes (its sockets with it). The new
    // one is a secondary of the same subnet: promoted, as systemd-networkd has it, rather
    // than removed with the primary (the kernel's default).
    await lab.exec(e2, ["sysctl", "-qw", `net.ipv4.conf.${e2.link}.promote_secondaries=1`], {
      check: true,
    });
    await lab.exec(e2, ["ip", "addr", "add", `${NEW_ADDRESS}/24`, "dev", e2.link], { check: true });
    await lab.exec(e2, ["ip", "addr", "del", `${e2.address}/24`, "dev", e2.link], { check: true });
    const renumberedAt = Date.now();
    await s12.status;
    await s21.status;
    const [line2] = await r2.waitForLog(/received \d+ of \d+ .*longest-gap \d+/, 30_000);
    const [line1] = await r1.waitForLog(/received \d+ of \d+ .*longest-gap \d+/, 30_000);
    const gap12 = Number(/longest-gap (\d+)/.exec(line2)![1]) / RATE;
    const gap21 = Number(/longest-gap (\d+)/.exec(line1)![1]) / RATE;
    console.log(`edge-1 -> edge-2: ${line2}\nedge-2 -> edge-1: ${line1}`);
    console.log(
      `longest gaps: ${gap12} s and ${gap21} s (the renumbering ${
        ((Date.now() - renumberedAt) / 1000).toFixed(1)
      } s ago)`,
    );
    below(gap12, 10, "longest gap edge-1 -> edge-2 (s)");
    below(gap21, 10, "longest gap edge-2 -> edge-1 (s)");

    const log = await a1.readLog();
    includes(log, `peer endpoint changed peer=edge-2 endpoint=${NEW_ADDRESS}:`, "edge-1's log");
    const after = await statusOf(lab, e1);
    const p = after!.peers.find((p) => p.name === "edge-2")!;
    strictEqual(p.state, "up", "edge-1's session with edge-2 after the renumbering");
    includes(p.learnedEndpoint?.endpoint ?? "", `${NEW_ADDRESS}:`, "edge-2's endpoint after");
  } catch (e) {
    lab.markFailed();
    throw e;
  }
});
