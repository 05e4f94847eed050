/**
 * `deno task bench` (root): every figure measured side by side in one run, reported as ratios.
 *
 * 1. Datapaths between two lab hosts: raw underlay, plain kernel VXLAN, weave fast datapath
 *    (no password: this kernel has no ESP), the encrypted sleeve — iperf3 single stream and
 *    4 streams, ping RTT, and the agents' CPU seconds per GB. The underlay, kernel VXLAN and
 *    the sleeve run in interleaved rounds on the same hosts, and each figure is the median over
 *    the rounds (ratios: the median of the per-round ratios): single runs on 2 shared vCPUs
 *    drift by ±30%.
 * 2. Control plane: handshakes per second, and the time an N-peer mesh takes to converge.
 * 3. Reconcile: plan and apply time for 10, 100, 1000 peers, with process spawns counted.
 *
 * `deno task bench --quick` shortens the iperf3 runs.
 *
 * @module
 */

import { Fleet } from "../tests/lab/fleet.ts";
import { Lab, type LabHost } from "../tests/lab/lab.ts";
import { formatHandshakeBench, runHandshakeBench } from "./handshake_bench.ts";
import { applyChanges, observeHost, planHost } from "../datapath/host/mod.ts";
import type { DesiredHost } from "../datapath/host/desired.ts";
import { deriveEspKeys } from "../datapath/fastdp/esp_keys.ts";
import {
  formatLatencyTable,
  latency,
  type LatencyFigures,
  packetWorkerThreads,
} from "./latency.ts";

const quick = Deno.args.includes("--quick");
const SECONDS = quick ? 3 : 5;
const ROUNDS = quick ? 1 : 5;
const results: Record<string, unknown> = {};

function line(s: string) {
  console.log(s);
}

async function iperf(lab: Lab, server: LabHost, client: LabHost, addr: string, streams: number) {
  const srv = await lab.spawn(server, ["iperf3", "-s", "-1", "-B", addr], {
    logFile: `iperf-${addr}-${streams}.log`,
  });
  await srv.waitForLog(/Server listening/, 5000).catch(() => {});
  const r = await lab.exec(client, [
    "iperf3",
    "-c",
    addr,
    "-t",
    String(SECONDS),
    "-P",
    String(streams),
    "-J",
  ], {
    timeoutMs: (SECONDS + 20) * 1000,
  });
  await srv.stop();
  const j = JSON.parse(r.stdout);
  return {
    gbps: j.end.sum_received.bits_per_second / 1e9,
    bytes: j.end.sum_received.bytes as number,
  };
}

/** Median round-trip time in ms of 100 pings, 20 ms apart (the median: a few late replies on a
 * busy VM say nothing about the path). */
async function rtt(lab: Lab, from: LabHost, addr: string): Promise<number> {
  const r = await lab.exec(from, ["ping", "-c", "100", "-i", "0.02", addr]);
  return median([...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])));
}

function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

/** A plain kernel VXLAN between the two hosts, side by side with ours (VNI 999, port 4790). */
async function kernelVxlan(lab: Lab, a: LabHost, b: LabHost, mtu: number) {
  for (const [h, peer, i] of [[a, b, 1], [b, a, 2]] as const) {
    await lab.exec(h, [
      "ip",
      "link",
      "add",
      "kvx0",
      "type",
      "vxlan",
      "id",
      "999",
      "dstport",
      "4790",
      "local",
      h.address,
      "remote",
      peer.address,
    ], { check: true });
    await lab.exec(h, ["ip", "link", "set", "kvx0", "mtu", String(mtu), "up"], { check: true });
    await lab.exec(h, ["ip", "address", "add", `10.99.0.${i}/24`, "dev", "kvx0"], { check: true });
  }
  return ["10.99.0.1", "10.99.0.2"];
}

async function datapathBench() {
  line("\n## Datapaths (two lab hosts, same run)\n");
  const rows: { name: string; one: number; four: number; rtt: number; cpu: number | null }[] = [];
  let sleeveRatios = { one: NaN, rtt: NaN };

  // Encrypted sleeve, with the raw underlay and plain kernel VXLAN measured on the same hosts.
  {
    await using fleet = await Fleet.start({
      hosts: 2,
      password: "benchmark password, long enough 9182",
      datapath: "sleeve",
      logLevel: "info",
    });
    const st = await fleet.settled("sleeve");
    const [a, b] = fleet.lab.hosts;
    const mtu = st.get(a.name)!.networks[0].mtu;
    const [, kb] = await kernelVxlan(fleet.lab, a, b, mtu);
    const dst = fleet.overlayAddress(st.get(b.name)!, "net1");
    const pids = [...fleet.agents.values()].map((x) => x.pid);
    const backend = st.get(a.name)!.sleeve ?? { backend: "?", aead: "?" };
    const paths = [
      { name: "raw underlay (veth)", addr: b.address, agents: false },
      { name: "kernel VXLAN (plain)", addr: kb, agents: false },
      { name: `weave sleeve (${backend.backend} ${backend.aead})`, addr: dst, agents: true },
    ];
    const m = paths.map(() => ({ one: [] as number[], four: [] as number[], rtt: [] as number[] }));
    let cpu = 0, bytes = 0;
    const perRound: { sleeveVsKernel: number; rttVsKernel: number }[] = [];
    // RTT at three rates and under load (issue #18), kernel VXLAN beside the sleeve.
    const lat: LatencyFigures[][] = paths.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, p] of paths.entries()) {
        const c0 = p.agents ? pids.reduce((s, x) => s + cpuSeconds(x), 0) : 0;
        const one = await iperf(fleet.lab, b, a, p.addr, 1);
        if (p.agents) {
          cpu += pids.reduce((s, x) => s + cpuSeconds(x), 0) - c0;
          bytes += one.bytes;
        }
        m[i].one.push(one.gbps);
        m[i].four.push((await iperf(fleet.lab, b, a, p.addr, 4)).gbps);
        m[i].rtt.push(await rtt(fleet.lab, a, p.addr));
        const threads = p.agents ? packetWorkerThreads(pids) : [];
        if (i > 0) lat[i].push(await latency(fleet.lab, a, b, p.addr, threads));
      }
      perRound.push({
        sleeveVsKernel: m[2].one[round] / m[1].one[round],
        rttVsKernel: m[2].rtt[round] / m[1].rtt[round],
      });
    }
    paths.forEach((p, i) =>
      rows.push({
        name: p.name,
        one: median(m[i].one),
        four: median(m[i].four),
        rtt: median(m[i].rtt),
        cpu: p.agents ? cpu / (bytes / 1e9) : null,
      })
    );
    results.rounds = perRound;
    results.latency = { kernelVxlan: lat[1], sleeve: lat[2] };
    // Whether the packet workers ran at realtime priority (issue #18), and how often they left it.
    const priorities = await Promise.all(
      [a, b].map(async (h) => ({
        host: h.name,
        ...(await fleet.status(h.name))?.sleeve?.priority,
      })),
    );
    results.sleevePriority = priorities;
    line(
      `packet workers: ${
        priorities.map((p) =>
          `${p.host} ${p.realtime ? "realtime" : "ordinary"} (left realtime ${p.exits ?? "?"} ` +
          `time(s); ${p.why ?? "no status"})`
        ).join("; ")
      }`,
    );
    line(formatLatencyTable([[paths[1].name, lat[1]], [paths[2].name, lat[2]]]));
    line(
      `${ROUNDS} interleaved rounds; sleeve / kernel VXLAN per round, 1 stream: ${
        perRound.map((r) => r.sleeveVsKernel.toFixed(3)).join(", ")
      }; RTT: ${perRound.map((r) => r.rttVsKernel.toFixed(2)).join(", ")}`,
    );
    sleeveRatios = {
      one: median(perRound.map((r) => r.sleeveVsKernel)),
      rtt: median(perRound.map((r) => r.rttVsKernel)),
    };
  }
  // Fast datapath without a password (this kernel has no ESP), beside kernel VXLAN again.
  {
    await using fleet = await Fleet.start({
      hosts: 2,
      password: null,
      datapath: "auto",
      logLevel: "info",
    });
    const st = await fleet.settled("fastdp");
    const [a, b] = fleet.lab.hosts;
    const mtu = st.get(a.name)!.networks[0].mtu;
    const [, kb] = await kernelVxlan(fleet.lab, a, b, mtu);
    const k1 = (await iperf(fleet.lab, b, a, kb, 1)).gbps;
    const dst = fleet.overlayAddress(st.get(b.name)!, "net1");
    const f1 = (await iperf(fleet.lab, b, a, dst, 1)).gbps;
    rows.push({
      name: "weave fast datapath (plain)",
      one: f1,
      four: (await iperf(fleet.lab, b, a, dst, 4)).gbps,
      rtt: await rtt(fleet.lab, a, dst),
      cpu: null,
    });
    results.fastdpVsKernelVxlan = f1 / k1;
    line(
      `fast datapath / kernel VXLAN (same lab, single stream): ${(f1 / k1).toFixed(2)} (${
        f1.toFixed(2)
      } vs ${k1.toFixed(2)} Gbit/s)`,
    );
  }
  const kv = rows.find((r) => r.name.startsWith("kernel VXLAN"))!;
  const raw = rows[0];
  line(
    "\n| path | 1 stream Gbit/s | 4 streams Gbit/s | RTT ms (median) | ×kernel VXLAN (1 stream) | ×underlay | RTT ×kernel VXLAN | agents CPU s/GB |",
  );
  line("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    // The sleeve's ratios are medians of per-round ratios; the others are ratios of medians.
    const sleeve = r.cpu !== null;
    line(
      `| ${r.name} | ${r.one.toFixed(2)} | ${r.four.toFixed(2)} | ${r.rtt.toFixed(3)} | ${
        (sleeve ? sleeveRatios.one : r.one / kv.one).toFixed(3)
      } | ${(r.one / raw.one).toFixed(3)} | ${
        (sleeve ? sleeveRatios.rtt : r.rtt / kv.rtt).toFixed(2)
      } | ${r.cpu === null ? "-" : r.cpu.toFixed(1)} |`,
    );
  }
  results.datapaths = rows;
  results.sleeveRatios = sleeveRatios;
}

async function controlBench() {
  line("\n## Control plane (real TCP on loopback, one process)\n");
  const r = await runHandshakeBench({ handshakes: quick ? 100 : 400 });
  line(formatHandshakeBench(r));
  results.control = r;
}

function desiredWithPeers(n: number, encrypted: boolean): DesiredHost {
  const peers = Array.from(
    { length: n },
    (_, i) => ({ peer: `p${i}`, underlay: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}` }),
  );
  return {
    underlay: { address: "192.0.2.1", family: 4 },
    vxlanPort: 6784,
    networks: [{
      name: "bench",
      vni: 77,
      mtu: 1416,
      address: "10.31.0.1",
      prefixLength: 16,
      sleeve: true,
      fastdp: true,
      fdb: peers.map((p) => ({ ...p, macs: [] })),
    }],
    esp: encrypted
      ? peers.map((p, i) => ({
        peer: p.peer,
        local: "192.0.2.1",
        remote: p.underlay,
        ...deriveEspKeys({
          sessionKey: new Uint8Array(32).fill(i & 255),
          dialerNonce: new Uint8Array(32).fill(1),
          listenerNonce: new Uint8Array(32).fill((i >> 8) + 2),
          localIsDialer: true,
        }),
      }))
      : [],
  };
}

async function reconcileBench() {
  line("\n## Reconcile (throwaway namespace, real ip/bridge)\n");
  line(
    "| peers | changes | plan ms | apply ms | processes | second plan (changes) | plan only, with ESP: changes / ms |",
  );
  line("|---|---|---|---|---|---|---|");
  const rows = [];
  for (const n of [10, 100, 1000]) {
    // A lab of one bare namespace: torn down with the lab, reclaimed by cleanupStale if killed.
    await using lab = await Lab.create({ hosts: 0 });
    const { ns } = await lab.addMachine("bench");
    const ip = (...a: string[]) =>
      new Deno.Command("ip", { args: ["-n", ns, ...a], stdout: "null", stderr: "null" }).output();
    await ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
    await ip("address", "add", "192.0.2.1/24", "dev", "eth0");
    await ip("link", "set", "eth0", "up");
    const d = desiredWithPeers(n, false);
    const observed = await observeHost({ netns: ns });
    const t0 = performance.now();
    const changes = planHost(d, observed);
    const t1 = performance.now();
    const r = await applyChanges(changes, { netns: ns });
    const t2 = performance.now();
    const again = planHost(d, await observeHost({ netns: ns }));
    const enc = desiredWithPeers(n, true);
    const t3 = performance.now();
    const encChanges = planHost(enc, observed);
    const t4 = performance.now();
    line(
      `| ${n} | ${changes.length} | ${(t1 - t0).toFixed(1)} | ${
        (t2 - t1).toFixed(0)
      } | ${r.spawns} | ${again.length} | ${encChanges.length} / ${(t4 - t3).toFixed(1)} |`,
    );
    rows.push({
      peers: n,
      changes: changes.length,
      planMs: t1 - t0,
      applyMs: t2 - t1,
      spawns: r.spawns,
      second: again.length,
    });
  }
  results.reconcile = rows;
}

if (import.meta.main) {
  if (Deno.uid() !== 0) {
    console.error("deno task bench builds network namespaces: run it as root");
    Deno.exit(1);
  }
  line(
    `# weave-agent bench (${
      new Date().toISOString()
    }, ${Deno.build.arch}, iperf3 ${SECONDS} s per run, ${ROUNDS} rounds)`,
  );
  await controlBench();
  await reconcileBench();
  await datapathBench();
  await Deno.writeTextFile("/tmp/weave-bench.json", JSON.stringify(results, null, 2));
  line("\n(raw numbers in /tmp/weave-bench.json)");
}
