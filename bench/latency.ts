/**
 * Round-trip times as issue #18 asks for them: ping at three rates from idle (5, 100 and 1000
 * pings/s: a cold packet path, a warm one, a busy one), and ping under load (10 pings/s during
 * a single-stream iperf3 over the same pair), each with its median and maximum.
 *
 * @module
 */

import type { Lab, LabHost } from "../tests/lab/lab.ts";

/** Median and maximum of a set of round trips, in ms (NaN when none came back). */
export interface RttFigures {
  median: number;
  max: number;
  /** Replies received of pings sent. */
  replies: number;
  sent: number;
  /**
   * CPU the agents' packet workers spent per ping (µs, both ends, from the kernel's per-thread
   * run time): where no queue builds up the round trip is mostly this, spent in series, so it
   * says how much of the RTT is ours. Absent for paths without agents.
   */
  workerUsPerPing?: number;
}

export interface LatencyFigures {
  rate5: RttFigures;
  rate100: RttFigures;
  rate1000: RttFigures;
  underLoad: RttFigures;
}

function figures(stdout: string, sent: number): RttFigures {
  const xs = [...stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) =>
    a - b
  );
  const median = !xs.length
    ? NaN
    : xs.length % 2
    ? xs[xs.length >> 1]
    : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
  return { median, max: xs.length ? xs[xs.length - 1] : NaN, replies: xs.length, sent };
}

/**
 * The `/proc/<pid>/task/<tid>/schedstat` files of the sleeve's packet workers (Deno names a
 * Worker's thread `worker-N`) in the agents `pids`.
 */
export function packetWorkerThreads(pids: number[]): string[] {
  const out: string[] = [];
  for (const pid of pids) {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const comm = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/comm`).trim();
      if (comm.startsWith("worker-")) out.push(`/proc/${pid}/task/${t.name}/schedstat`);
    }
  }
  return out;
}

/** The threads' total run time so far, in ns (schedstat's first field). */
function runNs(threads: string[]): number {
  return threads.reduce((s, f) => s + Number(Deno.readTextFileSync(f).split(" ")[0]), 0);
}

/**
 * `count` pings, `interval` s apart, from `from` to `addr`; with `threads`
 * ({@link packetWorkerThreads}), also their CPU per ping.
 */
export async function ping(
  lab: Lab,
  from: LabHost,
  addr: string,
  count: number,
  interval: number,
  threads: string[] = [],
): Promise<RttFigures> {
  const ns0 = threads.length ? runNs(threads) : 0;
  const r = await lab.exec(from, [
    "ping",
    "-c",
    String(count),
    "-i",
    String(interval),
    "-W",
    "1",
    addr,
  ], { timeoutMs: (count * interval + 10) * 1000 });
  const f = figures(r.stdout, count);
  if (threads.length) f.workerUsPerPing = (runNs(threads) - ns0) / 1000 / count;
  return f;
}

/**
 * The four figures for the path to `addr` (an address of `server`), pinged from `client`.
 * Under load, `client` sends one iperf3 stream to `addr` meanwhile: the echo requests queue
 * behind the bulk data, the replies behind its ACKs.
 */
export async function latency(
  lab: Lab,
  client: LabHost,
  server: LabHost,
  addr: string,
  threads: string[] = [],
): Promise<LatencyFigures> {
  const rate5 = await ping(lab, client, addr, 20, 0.2, threads);
  const rate100 = await ping(lab, client, addr, 200, 0.01, threads);
  const rate1000 = await ping(lab, client, addr, 1000, 0.001, threads);
  const srv = await lab.spawn(server, ["iperf3", "-s", "-1", "-B", addr], {
    logFile: `iperf-load-${addr}.log`,
  });
  await srv.waitForLog(/Server listening/, 5000).catch(() => {});
  const bulk = lab.exec(client, ["iperf3", "-c", addr, "-t", "6"], { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 1000));
  const underLoad = await ping(lab, client, addr, 40, 0.1);
  await bulk;
  await srv.stop();
  return { rate5, rate100, rate1000, underLoad };
}

/** `median/max` of a figure, in ms. */
export function formatRtt(f: RttFigures): string {
  const loss = f.replies < f.sent ? ` (${f.sent - f.replies} lost)` : "";
  return `${f.median.toFixed(3)} / ${f.max.toFixed(2)}${loss}`;
}

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const KINDS = ["rate5", "rate100", "rate1000", "underLoad"] as const;

/**
 * A table of the rounds' figures per path: the median of the rounds' medians and the largest
 * maximum, then the first path's ratios (each figure of the last path over the first one's,
 * the median of per-round ratios).
 */
export function formatLatencyTable(paths: [string, LatencyFigures[]][]): string {
  const rows = [
    "\n| path (RTT ms, median / max over rounds) | 5 pings/s | 100 pings/s | 1000 pings/s | under load (1 stream) |",
    "|---|---|---|---|---|",
  ];
  for (const [name, rounds] of paths) {
    const cells = KINDS.map((k) => {
      const med = median(rounds.map((r) => r[k].median));
      const max = Math.max(...rounds.map((r) => r[k].max));
      return `${med.toFixed(3)} / ${max.toFixed(2)}`;
    });
    rows.push(`| ${name} | ${cells.join(" | ")} |`);
    if (rounds.some((r) => r.rate5.workerUsPerPing !== undefined)) {
      const cpu = KINDS.map((k) =>
        k === "underLoad" ? "–" : median(rounds.map((r) => r[k].workerUsPerPing ?? NaN)).toFixed(0)
      );
      rows.push(`| ${name}: packet workers' CPU per ping, µs (both ends) | ${cpu.join(" | ")} |`);
    }
  }
  if (paths.length >= 2) {
    const [base, last] = [paths[0][1], paths[paths.length - 1][1]];
    const ratios = KINDS.map((k) =>
      median(last.map((r, i) => r[k].median / base[i][k].median)).toFixed(2)
    );
    rows.push(
      `| ${paths[paths.length - 1][0]} ÷ ${paths[0][0]} (median) | ${ratios.join(" | ")} |`,
    );
  }
  return rows.join("\n");
}
