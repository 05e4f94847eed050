/**
 * What `weave-agent check` reads from the box: tool versions, `ip -json` tables, capabilities,
 * whether ports can be bound, whether peers answer. Thin and bounded: every call has a timeout,
 * and none of them changes anything on the box (a port bound to test it is closed at once).
 *
 * @module
 */

import dgram from "node:dgram";
import { runCommand } from "../../datapath/command.ts";
import type { IpAddrLink, IpDetailedLink, IpRoute, PortProbe, ReachProbe } from "./items.ts";

/**
 * Runs a command (argv, no shell) through the one process runner, `datapath/command.ts`, killed
 * at its timeout; null when it cannot run, fails or times out. Success: stdout then stderr
 * (tools print their version on either).
 */
export async function commandOutput(argv: string[], timeoutMs = 3000): Promise<string | null> {
  // runCommand never throws and kills the process at its timeout: nothing outlives the check.
  const r = await runCommand(argv[0], argv.slice(1), { timeoutMs });
  return r.ok ? r.stdout + r.stderr : null;
}

/** `ip -json ARGS` parsed; [] when it fails. */
export async function ipJson<T>(args: string[]): Promise<T[]> {
  const text = await commandOutput(["ip", "-json", ...args]);
  if (!text || text.trim() === "") return [];
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v as T[] : [];
  } catch {
    return [];
  }
}

/** Addresses of every link (`ip -json addr`). */
export function readAddresses(): Promise<IpAddrLink[]> {
  return ipJson<IpAddrLink>(["addr", "show"]);
}

/** IPv4 and IPv6 routes of the main table. */
export async function readRoutes(): Promise<IpRoute[]> {
  const [v4, v6] = await Promise.all([
    ipJson<IpRoute>(["-4", "route", "show", "table", "main"]),
    ipJson<IpRoute>(["-6", "route", "show", "table", "main"]),
  ]);
  return [...v4, ...v6];
}

/** VXLAN devices with details (`ip -json -d link show type vxlan`). */
export function readVxlanLinks(): Promise<IpDetailedLink[]> {
  return ipJson<IpDetailedLink>(["-d", "link", "show", "type", "vxlan"]);
}

/** Resource limits of this process (`/proc/self/limits`), or null. */
export async function readProcLimits(): Promise<string | null> {
  try {
    return await Deno.readTextFile("/proc/self/limits");
  } catch {
    return null;
  }
}

/** Effective capabilities text of this process. */
export async function readProcStatus(): Promise<string | null> {
  try {
    return await Deno.readTextFile("/proc/self/status");
  } catch {
    return null;
  }
}

/**
 * Tries to bind TCP or UDP on `hostname:port` and closes it again. UDP goes through
 * `node:dgram`, because `Deno.listenDatagram` still needs `--unstable-net`.
 */
export async function tryBind(
  transport: "tcp" | "udp",
  hostname: string,
  port: number,
): Promise<PortProbe> {
  try {
    if (transport === "tcp") Deno.listen({ hostname, port }).close();
    else await bindUdp(hostname, port);
    return { kind: "free" };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (e instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") return { kind: "in-use" };
    return { kind: "error", message: e instanceof Error ? e.message : String(e) };
  }
}

function bindUdp(hostname: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: hostname.includes(":") ? "udp6" : "udp4" });
    socket.once("error", (e) => {
      socket.close();
      reject(e);
    });
    socket.bind({ address: hostname, port, exclusive: true }, () => {
      socket.close(() => resolve());
    });
  });
}

/** Whether a unix socket accepts a connection (a running agent's control socket). */
export async function unixSocketAlive(path: string, timeoutMs = 500): Promise<boolean> {
  try {
    // A unix connect never waits on the network; the timeout only guards a wedged listener.
    const conn = await withTimeout(Deno.connect({ transport: "unix", path }), timeoutMs, path);
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** A TCP connect to `hostname:port`, aborted after `timeoutMs`. */
export async function probeTcp(hostname: string, port: number, timeoutMs: number) {
  const start = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const conn = await Deno.connect({ hostname, port, signal });
    conn.close();
    return { ok: true, ms: Math.max(0, Math.round(performance.now() - start)) } as ReachProbe;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (signal.aborted) return { ok: false, reason: "timeout", message } as ReachProbe;
    if (e instanceof Deno.errors.ConnectionRefused) {
      return { ok: false, reason: "refused", message } as ReachProbe;
    }
    if (/unreachable|no route/i.test(message)) {
      return { ok: false, reason: "unreachable", message } as ReachProbe;
    }
    return { ok: false, reason: "error", message } as ReachProbe;
  }
}

/** Resolves `p`, or rejects with "`what` timed out after N ms". */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
