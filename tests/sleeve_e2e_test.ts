/**
 * End to end over the encrypted sleeve, with real agent processes in lab namespaces.
 */

import { strictEqual } from "node:assert";
import { above } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { cli, countBytes, Fleet, markedPayload, randomBytes, transfer } from "./lab/fleet.ts";
import type { LabHost } from "./lab/lab.ts";
import type { AgentStatus } from "../agent/agent.ts";
import { bestAeadBackend } from "../datapath/sleeve/aead.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PASSWORD = "correct horse battery staple, but longer 7731";

/**
 * Starts tcpdump in `host`'s namespace on `iface` (its underlay link unless given), writing
 * `pcap`. Immediate mode: without it, packets
 * still in a ring block at SIGINT are never written; a 32 MB buffer keeps it from losing packets
 * while both CPUs are busy.
 */
async function startCapture(
  fleet: Fleet,
  host: LabHost,
  pcap: string,
  filter: string[],
  logFile: string,
  iface = host.link,
) {
  const dump = await fleet.lab.spawn(host, [
    "tcpdump",
    "-i",
    iface,
    "-U",
    "--immediate-mode",
    "-B",
    "32768",
    "-w",
    pcap,
    ...filter,
  ], { logFile });
  await dump.waitForLog(/listening on/, 10_000);
  return dump;
}

/**
 * Captures the sleeve datagrams `a` sends to `b` while `a` pings `dst` over the overlay:
 * real datagrams, from the real address and port, to replay or tamper with.
 */
async function captureSleeve(fleet: Fleet, a: LabHost, b: LabHost, dst: string, name: string) {
  const pcap = `${fleet.lab.runDir}/${name}.pcap`;
  const filter = ["udp", "and", "dst", b.address, "and", "dst", "port", "6783"];
  const dump = await startCapture(fleet, a, pcap, filter, `tcpdump-${name}.log`);
  const ping = await fleet.lab.exec(a, ["ping", "-c", "5", "-i", "0.2", "-W", "2", dst]);
  strictEqual(ping.code, 0, ping.stdout);
  await new Promise((r) => setTimeout(r, 300));
  await dump.stop("SIGINT");
  return pcap;
}

function sleeveOf(s: AgentStatus, peer: string): Record<string, unknown> {
  return (s.peers.find((p) => p.name === peer)?.sleeve ?? {}) as Record<string, unknown>;
}
function drops(s: AgentStatus, peer: string): Record<string, number> {
  return (sleeveOf(s, peer).drops ?? {}) as Record<string, number>;
}

Deno.test({
  name:
    "sleeve e2e: two hosts with a password: ping, TCP bytes match, nothing in clear on the wire",
  ...LAB,
  async fn() {
    await using fleet = await Fleet.start({ hosts: 2, password: PASSWORD, datapath: "sleeve" });
    const statuses = await fleet.settled("sleeve");
    const [a, b] = fleet.lab.hosts;
    const sa = statuses.get(a.name)!, sb = statuses.get(b.name)!;
    strictEqual(sa.peers[0].reason, "the config sets datapath: sleeve");
    strictEqual(sa.peers[0].encrypted, true);
    const dst = fleet.overlayAddress(sb, "net1");

    const pcap = `${fleet.lab.runDir}/underlay.pcap`;
    const dump = await startCapture(fleet, b, pcap, ["udp"], "tcpdump.log");

    const ping = await fleet.lab.exec(a, ["ping", "-c", "3", "-i", "0.2", "-W", "2", dst]);
    strictEqual(ping.code, 0, ping.stdout + ping.stderr);

    const file = await fleet.lab.writeFile("payload.bin", markedPayload(1 << 20));
    const [sent, got] = await transfer(fleet, a.name, b.name, dst, 7100, file);
    strictEqual(got, sent, "received bytes differ from sent bytes");
    await new Promise((r) => setTimeout(r, 300));
    await dump.stop("SIGINT");

    const capture = await Deno.readFile(pcap);
    const marker = new TextEncoder().encode("WEAVE-PLAINTEXT-MARKER");
    above(capture.length, 1_000_000, "capture bytes", `tcpdump said: ${await dump.readLog()}`);
    strictEqual(countBytes(capture, marker), 0, "payload marker visible on the underlay");

    const after = (await fleet.status(a.name))!;
    const c = sleeveOf(after, b.name);
    above(c.txBytes as number, 1_000_000, "sleeve txBytes", JSON.stringify(c));
  },
});

Deno.test({
  name: "sleeve e2e: three hosts, full mesh, each pair carries a TCP transfer",
  ...LAB,
  async fn() {
    await using fleet = await Fleet.start({ hosts: 3, password: PASSWORD, datapath: "sleeve" });
    const statuses = await fleet.settled("sleeve");
    const file = await fleet.lab.writeFile("payload.bin", markedPayload(256 * 1024));
    let port = 7200;
    for (const [from, to] of [["edge-1", "edge-2"], ["edge-2", "edge-3"], ["edge-3", "edge-1"]]) {
      const dst = fleet.overlayAddress(statuses.get(to)!, "net1");
      const [sent, got] = await transfer(fleet, from, to, dst, port++, file);
      strictEqual(got, sent, `${from} -> ${to}`);
    }
  },
});

Deno.test({
  name: "sleeve e2e: a replayed datagram and a forged one are dropped and counted",
  ...LAB,
  async fn() {
    await using fleet = await Fleet.start({ hosts: 2, password: PASSWORD, datapath: "sleeve" });
    const statuses = await fleet.settled("sleeve");
    const [a, b] = fleet.lab.hosts;
    const dst = fleet.overlayAddress(statuses.get(b.name)!, "net1");
    const pcap = await captureSleeve(fleet, a, b, dst, "replay");

    const before = drops((await fleet.status(b.name))!, a.name);
    const replay = await fleet.lab.exec(a, [
      "python3",
      `${REPO}/tests/tools/replay_pcap.py`,
      pcap,
      a.link,
      "replay",
      "6783",
      "5",
    ]);
    strictEqual(replay.stdout.trim(), "5", replay.stderr);
    const forge = await fleet.lab.exec(a, [
      "python3",
      `${REPO}/tests/tools/replay_pcap.py`,
      pcap,
      a.link,
      "forge",
      "6783",
      "5",
    ]);
    strictEqual(forge.stdout.trim(), "5", forge.stderr);
    await new Promise((r) => setTimeout(r, 500));
    const afterStatus = (await fleet.status(b.name))!;
    const after = drops(afterStatus, a.name);
    strictEqual((after.replay ?? 0) - (before.replay ?? 0), 5, JSON.stringify(after));
    strictEqual((after.auth ?? 0) - (before.auth ?? 0), 5, JSON.stringify(after));
    // The agents are unharmed.
    strictEqual(
      (await fleet.lab.exec(a, ["ping", "-c", "2", "-i", "0.2", "-W", "2", dst])).code,
      0,
    );
    const st = await cli(fleet.lab, b, ["status", "--name", b.name]);
    strictEqual(st.code, 0);
  },
});

Deno.test({
  name: "sleeve e2e: a datagram sealed under another password is dropped and counted as auth",
  ...LAB,
  async fn() {
    await using fleet = await Fleet.start({ hosts: 2, password: PASSWORD, datapath: "sleeve" });
    const statuses = await fleet.settled("sleeve");
    const [a, b] = fleet.lab.hosts;
    const sb = statuses.get(b.name)!;
    const index = sb.peers.find((p) => p.name === a.name)!.sleeveIndex!;
    const vni = sb.networks[0].vni;
    // Capture real datagrams edge-1 -> edge-2, then put forged ones of the same size on the
    // wire in their place: right address, port, index and format, wrong password.
    const pcap = await captureSleeve(fleet, a, b, fleet.overlayAddress(sb, "net1"), "forge");
    // The size of the ping datagrams (the most common one in the capture).
    const sizes = await fleet.lab.exec(a, ["tcpdump", "-r", pcap, "-nn"]);
    const counts = new Map<number, number>();
    for (const m of sizes.stdout.matchAll(/length (\d+)\s*$/gm)) {
      counts.set(Number(m[1]), (counts.get(Number(m[1])) ?? 0) + 1);
    }
    const size = [...counts].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 0;
    above(size, 32, "ping datagram size", sizes.stdout + sizes.stderr);
    const forged = await fleet.lab.exec(a, [
      Deno.execPath(),
      "run",
      "-A",
      `${REPO}/tests/tools/sleeve_forge.ts`,
      String(vni),
      String(index),
      "5",
      String(size),
    ]);
    strictEqual(forged.stdout.trim().split("\n").length, 5, forged.stderr);
    const before = drops((await fleet.status(b.name))!, a.name);
    const sent = await fleet.lab.exec(a, [
      "python3",
      `${REPO}/tests/tools/replay_pcap.py`,
      pcap,
      a.link,
      "substitute",
      "6783",
      "5",
    ], { stdin: forged.stdout });
    strictEqual(sent.stdout.trim(), "5", sent.stderr);
    await new Promise((r) => setTimeout(r, 500));
    const after = drops((await fleet.status(b.name))!, a.name);
    strictEqual((after.auth ?? 0) - (before.auth ?? 0), 5, JSON.stringify(after));
  },
});

Deno.test({
  name:
    "sleeve e2e: TCP segments sent with a partial checksum leave the far box with a valid one, out through a link without checksum offload",
  ...LAB,
  async fn() {
    await using fleet = await Fleet.start({ hosts: 2, password: PASSWORD, datapath: "sleeve" });
    const statuses = await fleet.settled("sleeve");
    const lab = fleet.lab;
    const [a, b] = lab.hosts;
    // A machine C behind B: a veth whose B end cannot offload checksums, so B's kernel must
    // finish every partial checksum in software before the segment leaves; C verifies them.
    // C joins net1 through B's bridge (as a workload does): since #13 nothing outside the
    // overlay may reach an overlay address, so a routed path from another link is refused.
    const c = await lab.addMachine("behind-b");
    const [bEnd, cEnd] = [`${lab.prefix}fb`, `${lab.prefix}fc`];
    const ok = async (host: LabHost, argv: string[]) => await lab.exec(host, argv, { check: true });
    await lab.exec(b, ["ip", "link", "add", bEnd, "type", "veth", "peer", "name", cEnd], {
      check: true,
    });
    await ok(b, ["ip", "link", "set", cEnd, "netns", c.ns]);
    const br = JSON.parse((await ok(b, ["ip", "-json", "link", "show", "dev", "wvb-net1"])).stdout);
    const mtu = String(br[0].mtu);
    await ok(b, ["ip", "link", "set", bEnd, "mtu", mtu, "master", "wvb-net1", "up"]);
    await ok(b, ["ethtool", "-K", bEnd, "tx", "off"]);
    const cAddress = "10.40.1.200";
    await ok(c, ["ip", "address", "add", `${cAddress}/24`, "dev", cEnd]);
    await ok(c, ["ip", "link", "set", cEnd, "mtu", mtu, "up"]);
    await ok(c, ["ethtool", "-K", cEnd, "rx", "off"]);

    const pcap = `${lab.runDir}/behind-b.pcap`;
    const filter = ["tcp", "and", "port", "7400"];
    const dump = await startCapture(fleet, c, pcap, filter, "tcpdump-behind-b.log", cEnd);
    const file = await lab.writeFile("payload.bin", randomBytes(2 << 20));
    const [sent, got] = await transfer(fleet, a.name, c.name, cAddress, 7400, file);
    strictEqual(got, sent, "bytes differ after leaving B");
    await new Promise((r) => setTimeout(r, 300));
    await dump.stop("SIGINT");

    const fromA = fleet.overlayAddress(statuses.get(a.name)!, "net1");
    const read = await lab.exec(c, ["tcpdump", "-r", pcap, "-nn", "-vv", "src", "host", fromA]);
    // With -vv each packet is an IP line, then a TCP line with its checksum and payload length.
    const segments = read.stdout.split("\n").filter((l) => /cksum .*length [1-9]\d*$/.test(l));
    above(segments.length, 100, "data segments captured");
    const bad = segments.filter((l) => !/\(correct\)/.test(l));
    strictEqual(
      bad.length,
      0,
      `segments without a correct TCP checksum:\n${bad.slice(0, 3).join("\n")}`,
    );
    const after = (await fleet.status(a.name))!;
    strictEqual(
      (sleeveOf(after, b.name).txBytes as number) > 2_000_000,
      true,
      "went over the sleeve",
    );
  },
});

Deno.test({
  name: "sleeve e2e: boxes on each crypto backend (WEAVE_SLEEVE_CRYPTO) interoperate",
  ...LAB,
  async fn() {
    await using fleet = await Fleet.start({
      hosts: 4,
      password: PASSWORD,
      datapath: "sleeve",
      envFor: {
        "edge-2": { WEAVE_SLEEVE_CRYPTO: "noble" },
        "edge-3": { WEAVE_SLEEVE_CRYPTO: "libcrypto" },
        "edge-4": { WEAVE_SLEEVE_CRYPTO: "libsodium" },
      },
    });
    const statuses = await fleet.settled("sleeve");
    const [a, b, c, d] = fleet.lab.hosts;
    // auto: the best that loads (CI has both libraries: python3-nacl brings libsodium).
    strictEqual(
      statuses.get(a.name)!.sleeve?.backend,
      bestAeadBackend(statuses.get(a.name)!.sleeve!.aead),
    );
    strictEqual(statuses.get(b.name)!.sleeve?.backend, "noble");
    strictEqual(statuses.get(c.name)!.sleeve?.backend, "libcrypto");
    strictEqual(statuses.get(d.name)!.sleeve?.backend, "libsodium");
    const file = await fleet.lab.writeFile("payload.bin", randomBytes(512 * 1024));
    let port = 7500;
    for (const [from, to] of [[a, b], [b, a], [a, c], [c, d], [d, a], [b, d]] as const) {
      const dst = fleet.overlayAddress(statuses.get(to.name)!, "net1");
      const ping = await fleet.lab.exec(from, ["ping", "-c", "3", "-i", "0.2", "-W", "2", dst]);
      strictEqual(ping.code, 0, ping.stdout + ping.stderr);
      const [sent, got] = await transfer(fleet, from.name, to.name, dst, port++, file);
      const what = `${statuses.get(from.name)!.sleeve?.backend} -> ${
        statuses.get(to.name)!.sleeve?.backend
      }`;
      strictEqual(got, sent, what);
    }
    for (const h of [a, b, c, d]) {
      const s = (await fleet.status(h.name))!;
      for (const o of [a, b, c, d]) if (o !== h) strictEqual(drops(s, o.name).auth, 0, h.name);
    }
  },
});
