/**
 * Relays with real agents (#16), three boxes on one underlay and no NAT: an nft rule blocks the
 * underlay between edge-1 and edge-2 both ways while a numbered UDP stream runs between them.
 * Within 10 s both ends hold a control session relayed by edge-3 (the v2 handshake end to end
 * inside edge-3's sealed sessions); the stream loses only the datagrams of the outage (one run
 * of them, nothing after the relayed session is up); ping and a TCP transfer work through the
 * relay; a capture on edge-3 shows no payload in clear, and edge-3's sleeve forwards the pair's
 * datagrams without opening them (its own receive counters for the pair do not move). Lifting
 * the block brings the pair back to a direct session.
 */

import { strictEqual } from "node:assert";
import type { AgentStatus } from "../agent/agent.ts";
import { countBytes, Fleet, markedPayload, transfer } from "./lab/fleet.ts";
import { above, atLeast, below } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { missingOf, startUdpStream, streamResult } from "./lab/udp_streams.ts";

const PASSWORD = "relay test passphrase, long enough 5521";
/** The numbered stream: datagrams per second, and how long it runs. */
const RATE = 100;
const STREAM_SECONDS = 16;

const peerOf = (s: AgentStatus, name: string) => s.peers.find((p) => p.name === name)!;
/** `direct`, `via X` (a relayed session up) or the state without a session. */
const sessionText = (s: AgentStatus, name: string) => {
  const p = peerOf(s, name);
  if (p.state !== "up") return p.state;
  return p.control?.via ? `via ${p.control.via}` : "direct";
};

Deno.test({
  ...LAB,
  name: "relay lab: a blocked pair is relayed within 10 s, end to end sealed, then back to direct",
  async fn() {
    await using fleet = await Fleet.start({ hosts: 3, password: PASSWORD, datapath: "sleeve" });
    const [a, b, c] = fleet.lab.hosts.map((h) => h.name);
    const settled = await fleet.settled("sleeve");
    const dst = fleet.overlayAddress(settled.get(b)!, "net1");

    const stream = await startUdpStream(fleet, a, b, dst, 7300, RATE * STREAM_SECONDS, RATE, 20);
    await new Promise((r) => setTimeout(r, 3000));
    const t0 = Date.now();
    const fault = await fleet.lab.partition(a, b);
    const relayed = await fleet.waitForStatus(
      (all) =>
        sessionText(all.get(a)!, b) === `via ${c}` && sessionText(all.get(b)!, a) === `via ${c}`,
      20_000,
    );
    const relayedMs = Date.now() - t0;
    below(relayedMs, 10_000, "ms from the block until both ends hold a relayed session");
    const route = peerOf(relayed.get(a)!, b).route;
    strictEqual(route?.kind === "via" ? route.via : route?.kind, c, "route of edge-1 to edge-2");

    // The stream ends after the pair is relayed: it lost one run of datagrams, the outage.
    const verdict = await streamResult(stream);
    const lost = missingOf(verdict);
    below(lost, RATE * (relayedMs / 1000 + 1), "datagrams lost (the outage at most)", verdict);
    strictEqual(/ runs (\d+)/.exec(verdict)?.[1], lost > 0 ? "1" : "0", verdict);

    // Ping and TCP through the relay, with a capture on the relay.
    const before = (await fleet.status(c))!;
    const pcap = `${fleet.lab.runDir}/relay.pcap`;
    const dump = await fleet.lab.spawn(c, [
      "tcpdump",
      "-i",
      "eth0",
      "-U",
      "--immediate-mode",
      "-B",
      "32768",
      "-w",
      pcap,
      "udp",
    ], { logFile: "tcpdump-relay.log" });
    await dump.waitForLog(/listening on/, 10_000);
    const ping = await fleet.lab.exec(a, ["ping", "-c", "3", "-i", "0.2", "-W", "2", dst]);
    strictEqual(ping.code, 0, ping.stdout + ping.stderr);
    const file = await fleet.lab.writeFile("payload.bin", markedPayload(1 << 20));
    const [sent, got] = await transfer(fleet, a, b, dst, 7301, file);
    strictEqual(got, sent, "bytes received through the relay differ from those sent");
    await new Promise((r) => setTimeout(r, 300));
    await dump.stop("SIGINT");
    const capture = await Deno.readFile(pcap);
    above(capture.length, 1_000_000, "bytes captured on the relay", await dump.readLog());
    const marker = new TextEncoder().encode("WEAVE-PLAINTEXT-MARKER");
    strictEqual(countBytes(capture, marker), 0, "payload marker in clear on the relay");

    // The relay forwarded the pair's datagrams without opening them: it holds no keys for the
    // pair, so its own receive counters for either end stay where its own traffic puts them.
    const after = (await fleet.status(c))!;
    const forwarded = after.sleeveDrops!.relayedPackets - before.sleeveDrops!.relayedPackets;
    atLeast(forwarded, 700, "datagrams the relay forwarded during the transfer");
    for (const end of [a, b]) {
      const rx = peerOf(after, end).sleeve!.rxPackets - peerOf(before, end).sleeve!.rxPackets;
      below(rx, forwarded / 10, `datagrams from ${end} the relay opened itself`);
    }
    above(after.relay!.counters.forwardedMessages, 0, "control messages relayed");
    strictEqual(after.relay!.streams.length, 0, "relayed streams ending on the relay");
    strictEqual(relayed.get(a)!.relay!.streams.length, 1, "relayed streams ending on edge-1");

    console.log(
      `relayed after ${relayedMs} ms; ${verdict}; relay forwarded ${forwarded} datagrams, ` +
        `${after.relay!.counters.forwardedMessages} control messages`,
    );

    // Lift the block: a direct session replaces the relayed one.
    const t1 = Date.now();
    await fault.undo();
    await fleet.waitForStatus(
      (all) => sessionText(all.get(a)!, b) === "direct" && sessionText(all.get(b)!, a) === "direct",
      30_000,
    );
    console.log(`direct again ${Date.now() - t1} ms after the block was lifted`);
    const back = await fleet.lab.exec(a, ["ping", "-c", "3", "-i", "0.2", "-W", "2", dst]);
    strictEqual(back.code, 0, back.stdout + back.stderr);
  },
});
