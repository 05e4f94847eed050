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

import { Lab } from "../tests/lab.ts";
import type { AgentStatus } from "../agent/agent.ts";

const deno = Deno.execPath();
const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const tty = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
const c = (code: string, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const ok = (s: string) => console.log(`${c("32", "✔")} ${s}`);
const info = (s: string) => console.log(`${c("36", "•")} ${s}`);
const bad = (s: string) => console.log(`${c("31", "✘")} ${s}`);

const NAMES = ["edge-1", "edge-2", "edge-3"];
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
  info("building the lab: 3 boxes (network namespaces) on one underlay switch");
  const lab = await Lab.create({ hosts: NAMES });
  try {
    const [h1, h2, h3] = lab.hosts;
    ok(`lab up: ${lab.hosts.map((h) => `${h.name}=${h.address}`).join("  ")}`);

    const secret = await lab.writeFile(
      "secret.txt",
      crypto.randomUUID() + crypto.randomUUID() + "\n",
      0o600,
    );
    const config = await lab.writeFile(
      "weave.yaml",
      [
        "version: 1",
        "password:",
        `  file: ${secret}`,
        "datapath: auto",
        "peers:",
        ...lab.hosts.map((h) => `  - name: ${h.name}\n    address: ${h.address}`),
        "networks:",
        "  - name: sensors            # all three boxes",
        "    subnet: 10.32.1.0/24",
        "  - name: control            # edge-1 and edge-2 only",
        "    subnet: 10.32.2.0/24",
        "    members:",
        "      edge-1:",
        "      edge-2:",
        "",
      ].join("\n"),
    );
    info(
      `weave.yaml written (${config}): password from a file, networks sensors (3) and control (2)`,
    );

    const v = await lab.exec(h1, [
      deno,
      "run",
      "-A",
      "--unstable-ffi",
      `${repo}/main.ts`,
      "validate",
      "-c",
      config,
      "--name",
      h1.name,
    ]);
    expect(v.code === 0, "weave-agent validate: config is valid", `validate failed:\n${v.stderr}`);

    info("starting 3 agents (weave-agent up) ...");
    const agents = await Promise.all(
      lab.hosts.map((h) =>
        lab.startAgent(h, ["-c", config, "--name", h.name, "--log-level", "info"])
      ),
    );
    const t0 = performance.now();
    for (const [i, a] of agents.entries()) {
      await a.waitForLog(/agent up/, 20_000);
      await a.waitForLog(/session up.*peer=/, 20_000);
      void i;
    }
    // Each agent has two peers; wait until every pair has settled on a datapath.
    const statuses = await waitFor(async () => {
      const all = await Promise.all(lab.hosts.map((h) => status(lab, h)));
      return all.every((s) =>
          s && s.peers.every((p) => p.datapath === "fastdp" || p.datapath === "sleeve")
        )
        ? all as AgentStatus[]
        : null;
    }, 30_000);
    if (!statuses) {
      bad("the agents did not settle within 30 s; logs: " + agents.map((a) => a.logPath).join(" "));
      return 1;
    }
    ok(
      `handshakes done: 3 pairs, ephemeral X25519 + password, in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
    for (const s of statuses) {
      for (const p of s.peers) {
        if (s.peer < p.name) {
          info(`  ${s.peer} ⇄ ${p.name}: ${c("1", p.datapath)} (${p.reason}); crypto ${p.crypto}`);
        }
      }
    }

    const addr = (s: AgentStatus, net: string) => s.networks.find((n) => n.name === net)!.address;
    const [s1, s2, s3] = statuses;
    for (
      const [from, fromS, to, toS, net] of [
        [h1, s1, h2, s2, "sensors"],
        [h1, s1, h3, s3, "sensors"],
        [h2, s2, h3, s3, "sensors"],
        [h1, s1, h2, s2, "control"],
      ] as const
    ) {
      const target = addr(toS, net);
      const p = await lab.exec(from, [
        "ping",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "2",
        "-I",
        addr(fromS, net),
        target,
      ]);
      const rtt = /= [\d.]+\/([\d.]+)\//.exec(p.stdout)?.[1];
      expect(
        p.code === 0,
        `ping ${net}: ${from.name} → ${to.name} (${target}) ok, avg ${rtt} ms`,
        `ping ${net} ${from.name} → ${to.name} failed`,
      );
    }

    const payload = await lab.writeFile(
      "payload.bin",
      crypto.getRandomValues(new Uint8Array(65536)),
      0o600,
    );
    for (
      const [from, to, toS, net, port] of [[h1, h2, s2, "control", 7001], [
        h3,
        h2,
        s2,
        "sensors",
        7002,
      ]] as const
    ) {
      const dst = addr(toS, net);
      const recv = await lab.spawn(to, [
        deno,
        "run",
        "-A",
        `${repo}/tests/tools/tcp_transfer.ts`,
        "listen",
        dst,
        String(port),
      ], { logFile: `recv-${port}.log` });
      await new Promise((r) => setTimeout(r, 700));
      const sent = await lab.exec(from, [
        deno,
        "run",
        "-A",
        `${repo}/tests/tools/tcp_transfer.ts`,
        "send",
        dst,
        String(port),
        payload,
      ]);
      await recv.status;
      const got = (await recv.readLog()).split("\n").filter((l) => /^\d+ [0-9a-f]{64}$/.test(l))
        .join("");
      expect(
        got !== "" && got === sent.stdout.trim(),
        `TCP ${net}: ${from.name} → ${to.name}: 64 KiB arrived, SHA-256 matches`,
        `TCP transfer ${net} ${from.name} → ${to.name} failed: sent "${sent.stdout.trim()}" got "${got}"`,
      );
    }

    // edge-3 is not on `control`: even with a hand-made route through its sensors bridge, it
    // must not reach edge-1's control address.
    const ctl1 = addr(s1, "control");
    await lab.exec(h3, ["ip", "route", "add", "10.32.2.0/24", "dev", "wvb-sensors"]);
    const leak = await lab.exec(h3, ["ping", "-c", "2", "-i", "0.2", "-W", "1", ctl1]);
    expect(
      leak.code !== 0,
      `isolation: edge-3 (sensors only) cannot reach ${ctl1} on control, even with a route`,
      `isolation broken: edge-3 reached ${ctl1}`,
    );

    const iperfServer = await lab.spawn(h2, ["iperf3", "-s", "-1", "-B", addr(s2, "sensors")], {
      logFile: "iperf3-server.log",
    });
    await new Promise((r) => setTimeout(r, 500));
    const ip = await lab.exec(h1, ["iperf3", "-c", addr(s2, "sensors"), "-t", "3", "-J"]);
    await iperfServer.stop();
    try {
      const j = JSON.parse(ip.stdout);
      const gbps = j.end.sum_received.bits_per_second / 1e9;
      const dp = s1.peers.find((p) => p.name === h2.name)!;
      ok(
        `throughput edge-1 → edge-2 over ${dp.datapath}: ${
          gbps.toFixed(2)
        } Gbit/s (iperf3, 1 stream, 3 s)`,
      );
    } catch {
      bad("iperf3 did not produce a result");
      failures++;
    }

    const st = await lab.exec(h1, [
      deno,
      "run",
      "-A",
      "--unstable-ffi",
      `${repo}/main.ts`,
      "status",
      "--name",
      h1.name,
      "--run-dir",
      lab.agentRunDir,
    ]);
    console.log(c("2", st.stdout.trimEnd().split("\n").map((l) => "    " + l).join("\n")));

    info("stopping agents and removing what they created (weave-agent down) ...");
    for (const h of lab.hosts) {
      await lab.exec(h, [
        deno,
        "run",
        "-A",
        "--unstable-ffi",
        `${repo}/main.ts`,
        "down",
        "--name",
        h.name,
        "--run-dir",
        lab.agentRunDir,
      ]);
    }
    ok("agents stopped, kernel state removed");
  } finally {
    await lab.destroy();
  }
  ok(`lab torn down (${((performance.now() - started) / 1000).toFixed(0)} s in all)`);
  console.log(`
What to try next:
  deno task agent validate -c examples/three-peers.yaml --name edge-1   explain a config
  deno task agent plan -c examples/two-peers.yaml --name edge-1         the exact commands for a box
  deno task agent check -c /etc/weave/weave.yaml                        preflight a real box
  deno task test                                                        the test suite
  deno task bench                                                       sleeve vs kernel vs underlay`);
  if (failures) bad(`${failures} step(s) failed`);
  return failures ? 1 : 0;
}

async function status(lab: Lab, h: Lab["hosts"][number]): Promise<AgentStatus | null> {
  const r = await lab.exec(h, [
    deno,
    "run",
    "-A",
    "--unstable-ffi",
    `${repo}/main.ts`,
    "status",
    "--json",
    "--name",
    h.name,
    "--run-dir",
    lab.agentRunDir,
  ]);
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout) as AgentStatus;
  } catch {
    return null;
  }
}

async function waitFor<T>(fn: () => Promise<T | null>, timeoutMs: number): Promise<T | null> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
  return null;
}

if (import.meta.main) Deno.exit(await main());
