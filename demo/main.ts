/**
 * `deno task demo` (as root): a three-box fleet on this host, in network namespaces.
 *
 * Builds the lab, writes one weave.yaml with a password and two networks, starts three real
 * agent processes and shows, one line per step, what they did: handshakes, the datapath each
 * pair got and why, ping and a TCP transfer within each network, that the networks cannot reach
 * each other, a throughput figure. Then it tears everything down (also on Ctrl-C or failure)
 * and says what to try next.
 *
 * @module
 */

import { cli, Fleet, randomBytes, transfer } from "../tests/lab/fleet.ts";
import type { AgentStatus } from "../agent/agent.ts";

const tty = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
const c = (code: string, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const ok = (s: string) => console.log(`${c("32", "✔")} ${s}`);
const info = (s: string) => console.log(`${c("36", "•")} ${s}`);
const bad = (s: string) => console.log(`${c("31", "✘")} ${s}`);

let failures = 0;
function expect(cond: boolean, yes: string, no: string): void {
  if (cond) ok(yes);
  else {
    failures++;
    bad(no);
  }
}

async function main(): Promise<number> {
  if (Deno.uid() !== 0) {
    console.error("deno task demo builds network namespaces: run it as root");
    return 1;
  }
  const started = performance.now();
  info("building the lab: 3 boxes (network namespaces) on one underlay switch, starting 3 agents");
  const fleet = await Fleet.start({
    hosts: ["edge-1", "edge-2", "edge-3"],
    password: crypto.randomUUID() + crypto.randomUUID(),
    datapath: "auto",
    logLevel: "info",
    networks: [
      { name: "sensors", subnet: "10.32.1.0/24" },
      { name: "control", subnet: "10.32.2.0/24", members: ["edge-1", "edge-2"] },
    ],
  });
  try {
    const lab = fleet.lab;
    const [h1, h2, h3] = lab.hosts;
    ok(`lab up: ${lab.hosts.map((h) => `${h.name}=${h.address}`).join("  ")}`);
    info(`weave.yaml: password from a 0600 file, networks sensors (3 boxes) and control (2 boxes)`);
    const v = await cli(lab, h1, [
      "validate",
      "-c",
      fleet.configs.get(h1.name)!,
      "--name",
      h1.name,
    ]);
    expect(v.code === 0, "weave-agent validate: config is valid", `validate failed:\n${v.stderr}`);

    const t0 = performance.now();
    const statuses = await fleet.settled(undefined, 40_000);
    ok(
      `handshakes done: 3 pairs, ephemeral X25519 + password, key confirmation, in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
    for (const s of statuses.values()) {
      for (const p of s.peers) {
        if (s.peer < p.name) {
          info(`  ${s.peer} ⇄ ${p.name}: ${c("1", p.datapath)} (${p.reason}); crypto ${p.crypto}`);
        }
      }
    }

    const st = (name: string) => statuses.get(name)!;
    const addr = (s: AgentStatus, net: string) => fleet.overlayAddress(s, net);
    for (
      const [from, to, net] of [
        [h1, h2, "sensors"],
        [h1, h3, "sensors"],
        [h2, h3, "sensors"],
        [h1, h2, "control"],
      ] as const
    ) {
      const target = addr(st(to.name), net);
      const p = await lab.exec(from, ["ping", "-c", "3", "-i", "0.2", "-W", "2", target]);
      const rtt = /= [\d.]+\/([\d.]+)\//.exec(p.stdout)?.[1];
      expect(
        p.code === 0,
        `ping ${net}: ${from.name} → ${to.name} (${target}) ok, avg ${rtt} ms`,
        `ping ${net} ${from.name} → ${to.name} failed`,
      );
    }

    const payload = await lab.writeFile("payload.bin", randomBytes(1 << 20), 0o600);
    for (
      const [from, to, net, port] of [[h1, h2, "control", 7001], [h3, h2, "sensors", 7002]] as const
    ) {
      const [sent, got] = await transfer(
        fleet,
        from.name,
        to.name,
        addr(st(to.name), net),
        port,
        payload,
      );
      expect(
        got !== "" && got === sent,
        `TCP ${net}: ${from.name} → ${to.name}: 1 MiB arrived, SHA-256 matches`,
        `TCP transfer ${net} ${from.name} → ${to.name} failed: sent "${sent}" got "${got}"`,
      );
    }

    // edge-3 is not on `control`: even with a hand-made route through its sensors bridge, it
    // must not reach edge-1's control address.
    const ctl1 = addr(st(h1.name), "control");
    await lab.exec(h3, ["ip", "route", "add", "10.32.2.0/24", "dev", "wvb-sensors"]);
    const leak = await lab.exec(h3, ["ping", "-c", "2", "-i", "0.2", "-W", "1", ctl1]);
    expect(
      leak.code !== 0,
      `isolation: edge-3 (sensors only) cannot reach ${ctl1} on control, even with a route`,
      `isolation broken: edge-3 reached ${ctl1}`,
    );

    const server = addr(st(h2.name), "sensors");
    const iperfServer = await lab.spawn(h2, ["iperf3", "-s", "-1", "-B", server], {
      logFile: "iperf3-server.log",
    });
    await new Promise((r) => setTimeout(r, 500));
    const ip = await lab.exec(h1, ["iperf3", "-c", server, "-t", "3", "-J"]);
    await iperfServer.stop();
    try {
      const gbps = JSON.parse(ip.stdout).end.sum_received.bits_per_second / 1e9;
      const dp = st(h1.name).peers.find((p) => p.name === h2.name)!;
      ok(
        `throughput edge-1 → edge-2 over ${dp.datapath}: ${
          gbps.toFixed(2)
        } Gbit/s (iperf3, 1 stream, 3 s)`,
      );
    } catch {
      failures++;
      bad("iperf3 did not produce a result");
    }

    const status = await cli(lab, h1, ["status", "--name", h1.name]);
    console.log(c("2", status.stdout.trimEnd().split("\n").map((l) => "    " + l).join("\n")));
    info("stopping agents and removing what they created (weave-agent down) ...");
  } finally {
    await fleet.destroy();
  }
  ok(
    `agents stopped, kernel state removed, lab torn down (${
      ((performance.now() - started) / 1000).toFixed(0)
    } s in all)`,
  );
  console.log(`
What to try next:
  deno task agent validate -c examples/gitops/weave.yaml                 validate a fleet file, as CI does
  deno task agent validate -c examples/three-peers.yaml --name edge-1   what a config means for one box
  deno task agent plan -c examples/two-peers.yaml --name edge-1         the exact commands for a box
  deno task agent check -c /etc/weave/weave.yaml                        preflight a real box
  deno task agent genpass --out /etc/weave/secret.txt                   a strong fleet password
  deno task test                                                        the test suite
  deno task bench                                                       sleeve vs kernel vs underlay`);
  if (failures) bad(`${failures} step(s) failed`);
  return failures ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
