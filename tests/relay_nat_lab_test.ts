/**
 * Relays across two NATs with real agents (#16): edge-1 behind nat-1 and edge-2 behind nat-2
 * (nft masquerade, port-preserving as most home routers are), both dial-out only with node
 * keys; edge-3 is public. The two boxes behind NAT cannot dial each other: their pair's control
 * session is the v2 handshake end to end through edge-3, and their sleeve datagrams go through
 * edge-3's sleeve, which has no keys for the pair. Overlay ping and a TCP transfer work first
 * relayed (status: `via edge-3`), then direct once the boxes have punched a UDP path through
 * both NATs to the public endpoints edge-3 gossiped (status: `direct (punched)`); a capture on
 * edge-3 shows no payload in clear; and when the punched path breaks (an nft rule on nat-1),
 * the pair falls back to the relay.
 */

import { strictEqual } from "node:assert";
import type { AgentStatus } from "../agent/agent.ts";
import { cli, countBytes, markedPayload, transfer } from "./lab/fleet.ts";
import { above, atLeast, below, includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { Lab, type LabHost } from "./lab/lab.ts";
import { addNatBox, startKeyedAgent, statusOf, waitForAll, writeKeyedFleet } from "./lab/nat.ts";

const PASSWORD = "relay across two NATs, a password long enough 6614";

const peerOf = (s: AgentStatus, name: string) => {
  const p = s.peers.find((p) => p.name === name);
  if (!p) throw new Error(`${s.peer} has no peer ${name}`);
  return p;
};
const sessionText = (s: AgentStatus, name: string) => {
  const p = peerOf(s, name);
  return p.state !== "up" ? p.state : p.control?.via ? `via ${p.control.via}` : "direct";
};

async function ping(lab: Lab, from: LabHost, to: string) {
  const r = await lab.exec(from, ["ping", "-c", "3", "-i", "0.2", "-W", "2", to]);
  strictEqual(r.code, 0, `ping ${from.name} -> ${to}: ${r.stdout}${r.stderr}`);
}

Deno.test({
  ...LAB,
  name: "relay nat lab: two boxes behind two NATs talk through a public relay, then punched",
  async fn() {
    await using lab = await Lab.create({ hosts: ["edge-3", "nat-1", "nat-2"] });
    const e3 = lab.host("edge-3");
    await addNatBox(lab, lab.host("nat-1"), "edge-1", "192.168.77", 2, false);
    await addNatBox(lab, lab.host("nat-2"), "edge-2", "192.168.78", 2, false);
    const e1 = lab.host("edge-1"), e2 = lab.host("edge-2");
    const configs = await writeKeyedFleet(
      lab,
      [{ name: "edge-1" }, { name: "edge-2" }, { name: "edge-3", address: e3.address }],
      PASSWORD,
      ["nat_keepalive: 5s"],
    );
    // No straight path between the NATs at first (nat-1 drops what it forwards to and from
    // nat-2), so the pair is relayed until the path opens.
    const n1 = lab.host("nat-1"), n2 = lab.host("nat-2").address;
    const cut = () =>
      lab.exec(n1, ["nft", "-f", "-"], {
        stdin: [
          "table inet weave_lab_punch_cut {",
          "  chain forward { type filter hook forward priority -10; policy accept;",
          `    ip daddr ${n2} drop`,
          `    ip saddr ${n2} drop`,
          "  }",
          "}",
        ].join("\n"),
        check: true,
      });
    const uncut = () =>
      lab.exec(n1, ["nft", "delete", "table", "inet", "weave_lab_punch_cut"], { check: true });
    await cut();
    const agents = [];
    for (const h of [e3, e1, e2]) agents.push(await startKeyedAgent(lab, h, configs));
    for (const a of agents) await a.waitForLog(/agent up/, 60_000);

    // Relayed first: both ends hold a session through edge-3.
    const relayed = await waitForAll(
      lab,
      [e1, e2],
      (s) =>
        sessionText(s, "edge-3") === "direct" &&
        sessionText(s, s.peer === "edge-1" ? "edge-2" : "edge-1") === "via edge-3",
      60_000,
    );
    const s1 = relayed.get("edge-1")!, s2 = relayed.get("edge-2")!;
    const o1 = s1.networks[0].address, o2 = s2.networks[0].address;
    const pcap = `${lab.runDir}/relay.pcap`;
    const dump = await lab.spawn(e3, [
      "tcpdump",
      "-i",
      e3.link,
      "-U",
      "--immediate-mode",
      "-B",
      "32768",
      "-w",
      pcap,
      "udp",
    ], { logFile: "tcpdump-relay.log" });
    await dump.waitForLog(/listening on/, 10_000);
    const before = (await statusOf(lab, e3))!;
    await ping(lab, e1, o2);
    const file = await lab.writeFile("payload.bin", markedPayload(1 << 20));
    const [sent, got] = await transfer({ lab }, "edge-1", "edge-2", o2, 7401, file);
    strictEqual(got, sent, "edge-1 -> edge-2 through the relay: size and sha256");
    await new Promise((r) => setTimeout(r, 300));
    await dump.stop("SIGINT");
    const after = (await statusOf(lab, e3))!;
    const capture = await Deno.readFile(pcap);
    above(capture.length, 1_000_000, "bytes captured on the relay", await dump.readLog());
    strictEqual(
      countBytes(capture, new TextEncoder().encode("WEAVE-PLAINTEXT-MARKER")),
      0,
      "payload marker in clear on the relay",
    );
    const forwarded = after.sleeveDrops!.relayedPackets - before.sleeveDrops!.relayedPackets;
    atLeast(forwarded, 700, "datagrams edge-3 forwarded for the pair");
    for (const end of ["edge-1", "edge-2"]) {
      const rx = peerOf(after, end).sleeve!.rxPackets - peerOf(before, end).sleeve!.rxPackets;
      below(rx, forwarded / 10, `datagrams from ${end} edge-3 opened itself`);
    }
    console.log(`relayed: transfer ${sent}; edge-3 forwarded ${forwarded} datagrams`);

    // Punched: edge-3 gossips where it sees each box (the NATs' public mappings); the boxes
    // probe each other there, and move the pair's datagrams onto the straight path once the
    // path between the NATs opens.
    await uncut();
    const t0 = Date.now();
    const punched = await waitForAll(
      lab,
      [e1, e2],
      (s) => peerOf(s, s.peer === "edge-1" ? "edge-2" : "edge-1").sleevePath === "direct (punched)",
      40_000,
    );
    console.log(`punched after ${Date.now() - t0} ms`);
    const v12 = peerOf(punched.get("edge-1")!, "edge-2");
    strictEqual(v12.control?.via, "edge-3", "the control session stays relayed");
    const human = await cli(lab, e1, ["status", "--name", "edge-1"]);
    includes(human.stdout, "direct (punched)", "edge-1's status");
    const relayBefore = (await statusOf(lab, e3))!.sleeveDrops!.relayedPackets;
    await ping(lab, e1, o2);
    await ping(lab, e2, o1);
    const [sent2, got2] = await transfer({ lab }, "edge-2", "edge-1", o1, 7402, file);
    strictEqual(got2, sent2, "edge-2 -> edge-1 over the punched path: size and sha256");
    const relayAfter = (await statusOf(lab, e3))!.sleeveDrops!.relayedPackets;
    below(relayAfter - relayBefore, 50, "datagrams edge-3 forwarded once the pair was punched");

    // The punched path breaks (the cut again): the pair falls back to the relay, and traffic
    // flows again.
    await cut();
    const t1 = Date.now();
    await waitForAll(
      lab,
      [e1, e2],
      (s) => peerOf(s, s.peer === "edge-1" ? "edge-2" : "edge-1").sleevePath === "via edge-3",
      20_000,
    );
    console.log(`back on the relay ${Date.now() - t1} ms after the punched path broke`);
    await ping(lab, e1, o2);
  },
});
