/**
 * Where datagrams die in a lab host's network namespace: the kernel's UDP counters
 * (`/proc/net/snmp`: RcvbufErrors, InErrors) and, per socket, the drops column of
 * `/proc/net/udp` (a socket's receive buffer was full). Sampled while a test runs, so a loss can
 * be told apart: a full receive buffer (the kernel says so) or the overlay (it does not).
 *
 * @module
 */

import type { Lab } from "./lab.ts";

/** The namespace's UDP counters that say a datagram was dropped on receive. */
export interface UdpCounters {
  rcvbufErrors: number;
  inErrors: number;
}

/** Parses `/proc/net/snmp`'s `Udp:` lines. */
export function parseSnmpUdp(text: string): UdpCounters {
  const lines = text.split("\n").filter((l) => l.startsWith("Udp:"));
  if (lines.length < 2) throw new Error("no Udp: lines in /proc/net/snmp");
  const names = lines[0].split(/\s+/).slice(1), values = lines[1].split(/\s+/).slice(1);
  const get = (n: string) => Number(values[names.indexOf(n)] ?? NaN);
  return { rcvbufErrors: get("RcvbufErrors"), inErrors: get("InErrors") };
}

/** Per local port, the drops column of `/proc/net/udp` (IPv4 sockets). */
export function parseUdpSocketDrops(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = parseInt(f[1].split(":")[1], 16);
    out.set(port, (out.get(port) ?? 0) + Number(f[12]));
  }
  return out;
}

/** One sample of a host's namespace. */
export async function sampleUdp(
  lab: Lab,
  host: string,
): Promise<{ counters: UdpCounters; sockets: Map<number, number> }> {
  const snmp = await lab.exec(host, ["cat", "/proc/net/snmp"], { check: true });
  const udp = await lab.exec(host, ["cat", "/proc/net/udp"], { check: true });
  return { counters: parseSnmpUdp(snmp.stdout), sockets: parseUdpSocketDrops(udp.stdout) };
}

/** Samples `hosts` every `everyMs` until stopped; keeps the highest drops seen per port. */
export function watchUdpDrops(lab: Lab, hosts: string[], everyMs = 1000) {
  const first = new Map<string, UdpCounters>();
  const last = new Map<string, UdpCounters>();
  const socketMax = new Map<string, Map<number, number>>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const h of hosts) {
        try {
          const s = await sampleUdp(lab, h);
          if (!first.has(h)) first.set(h, s.counters);
          last.set(h, s.counters);
          const m = socketMax.get(h) ?? new Map<number, number>();
          for (const [port, d] of s.sockets) m.set(port, Math.max(m.get(port) ?? 0, d));
          socketMax.set(h, m);
        } catch { /* the lab is going away */ }
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  /** Stops; per host the counters' growth and the sockets that dropped anything. */
  const stop = async () => {
    stopped = true;
    await loop;
    const out: Record<string, { rcvbufErrors: number; inErrors: number; sockets: string }> = {};
    for (const h of hosts) {
      const a = first.get(h), b = last.get(h);
      const sockets = [...(socketMax.get(h) ?? new Map()).entries()]
        .filter(([, d]) => d > 0).map(([p, d]) => `${p}:${d}`).join(",");
      out[h] = {
        rcvbufErrors: a && b ? b.rcvbufErrors - a.rcvbufErrors : NaN,
        inErrors: a && b ? b.inErrors - a.inErrors : NaN,
        sockets,
      };
    }
    return out;
  };
  return { stop };
}
