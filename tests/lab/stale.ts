/**
 * Which network namespaces our code and tests make, and how the leftovers of a dead run are
 * told from the namespaces of a live one. `cleanupStale` (also `Lab.cleanupStale`, run by
 * `.ci/run` before the tests) removes only leftovers; other helpers' labs running at the same
 * time on the same machine are never touched.
 *
 * Two kinds of names:
 * - Lab namespaces (`wl` + 6 chars + `-…`, made by `Lab.create`/`addMachine`) have an owner
 *   marker `/run/weave-lab/P/owner.json` naming the owning process (pid and start time): they
 *   are leftovers exactly when that process is gone, or when there is no marker at all.
 * - Throwaway namespaces (`wv<tag><8 random>` from `withThrowawayNetns` in datapath/command.ts:
 *   the kernel probe and host tests) have no marker: their makers delete them within seconds, so one that has existed for
 *   `THROWAWAY_STALE_AFTER_MS` with nothing running inside is a leftover. A new test that needs a
 *   bare namespace should use `Lab.create({ hosts: 0 })` + `addMachine` instead (a marker, so
 *   it is reclaimed at once); a new maker of throwaway names adds its prefix to
 *   `NETNS_PREFIXES`, the one list.
 *
 * @module
 */

import { THROWAWAY_NETNS_PREFIX } from "../../datapath/command.ts";
import { killNamespacePids, listNetns, processStartTime, run } from "./run.ts";

/** Base of every lab prefix (`wl` + 6 random base-36 characters). */
export const LAB_PREFIX_BASE = "wl";

/** Where lab owner markers live (tmpfs: a reboot clears both namespaces and markers). */
export const LAB_MARKER_DIR = "/run/weave-lab";

/**
 * A throwaway namespace without a marker older than this, with no process inside, is a
 * leftover. Every maker deletes its namespace within one test (seconds), so ten minutes is a
 * wide margin.
 */
export const THROWAWAY_STALE_AFTER_MS = 10 * 60_000;

/** One family of namespace names, who makes it, and how a leftover is recognised. */
export interface NetnsPrefix {
  /** Names are this prefix + the random suffix `suffix` matches. */
  readonly prefix: string;
  /** The random part after the prefix. */
  readonly suffix: RegExp;
  /** `marker`: an owner marker says whether the run lives; `age`: see the module doc. */
  readonly owner: "marker" | "age";
  /** Where such names are made, for whoever finds one. */
  readonly madeBy: string;
}

/** Every namespace prefix our code and tests use: the one list `cleanupStale` works from. */
export const NETNS_PREFIXES: readonly NetnsPrefix[] = [
  {
    prefix: LAB_PREFIX_BASE,
    suffix: /^[a-z0-9]{6}(-[a-z0-9-]+)?$/,
    owner: "marker",
    madeBy: "tests/lab (Lab.create, addMachine)",
  },
  {
    prefix: THROWAWAY_NETNS_PREFIX,
    suffix: /^[a-z]{1,5}[0-9a-z]{8}$/, // throwawayNetnsName: a tag, then 8 random characters
    owner: "age",
    madeBy: "datapath/command.ts withThrowawayNetns (the kernel probe, host lab tests)",
  },
];

/** The family `ns` belongs to, or null for a name that is not ours. */
export function prefixOf(ns: string): NetnsPrefix | null {
  // Longest prefix first, so a family never shadows a longer one that starts like it.
  const byLength = [...NETNS_PREFIXES].sort((a, b) => b.prefix.length - a.prefix.length);
  for (const p of byLength) {
    if (ns.startsWith(p.prefix) && p.suffix.test(ns.slice(p.prefix.length))) return p;
  }
  return null;
}

/** What is known about one namespace when deciding. */
export interface NetnsFacts {
  name: string;
  /** When it was made (the nsfs inode's mtime), ms since the epoch, or null if unknown. */
  createdMs: number | null;
  /** Processes running inside. */
  pids: number;
  /** For lab names: whether its marker's owner is alive (null: there is no marker). */
  ownerAlive: boolean | null;
}

/** Whether `ns` is the leftover of a dead run (pure: the facts decide). */
export function isLeftover(f: NetnsFacts, nowMs: number): boolean {
  const family = prefixOf(f.name);
  if (family === null) return false;
  if (family.owner === "marker") return f.ownerAlive !== true;
  return f.pids === 0 && f.createdMs !== null &&
    nowMs - f.createdMs >= THROWAWAY_STALE_AFTER_MS;
}

/** Options of `cleanupStale`. */
export interface CleanupOptions {
  /** Consider only these namespaces (default: every one). Tests use it to stay off others'. */
  names?: readonly string[];
  /** The clock, for tests; default `Date.now()`. */
  nowMs?: number;
}

/** The run prefix of a lab namespace (`wlk3x9a2-edge-1` → `wlk3x9a2`). */
function labPrefix(ns: string): string {
  return ns.slice(0, LAB_PREFIX_BASE.length + 6);
}

/** Lab prefix → whether the owner named by its marker is alive. */
async function readMarkers(): Promise<Map<string, boolean>> {
  const owned = new Map<string, boolean>();
  try {
    for await (const e of Deno.readDir(LAB_MARKER_DIR)) {
      if (!/^[a-z][a-z0-9]{1,9}$/.test(e.name)) continue;
      let alive = false;
      try {
        const m = JSON.parse(
          await Deno.readTextFile(`${LAB_MARKER_DIR}/${e.name}/owner.json`),
        ) as { pid: number; startTime: string | null };
        const start = processStartTime(m.pid);
        alive = start !== null && (m.startTime === null || start === m.startTime);
      } catch {
        // Unreadable marker: the owner died while writing it, or it is garbage.
      }
      owned.set(e.name, alive);
    }
  } catch { /* no marker dir: nothing owned */ }
  return owned;
}

async function pidCount(ns: string): Promise<number> {
  const r = await run(["ip", "netns", "pids", ns]);
  return r.stdout.split("\n").filter((l) => l.trim() !== "").length;
}

async function createdMs(ns: string): Promise<number | null> {
  try {
    return (await Deno.stat(`/run/netns/${ns}`)).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/**
 * Removes the leftovers of dead runs (see the module doc): kills what still runs inside each
 * and deletes it, and removes the markers of dead lab runs. Returns what was cleaned: lab
 * prefixes and throwaway namespace names, sorted.
 */
export async function cleanupStale(opts: CleanupOptions = {}): Promise<string[]> {
  const now = opts.nowMs ?? Date.now();
  // Namespaces first, markers second: a lab writes its marker before its first namespace, so
  // every lab namespace listed here has its marker visible below, however new it is.
  const namespaces = await listNetns();
  const markers = await readMarkers();
  const only = opts.names ? new Set(opts.names) : null;
  const cleaned = new Set<string>();
  for (const ns of namespaces) {
    if (only && !only.has(ns)) continue;
    const family = prefixOf(ns);
    if (family === null) continue;
    const isLab = family.owner === "marker";
    const facts: NetnsFacts = {
      name: ns,
      createdMs: isLab ? null : await createdMs(ns),
      pids: isLab ? 0 : await pidCount(ns),
      ownerAlive: isLab ? markers.get(labPrefix(ns)) ?? null : null,
    };
    if (!isLeftover(facts, now)) continue;
    await killNamespacePids(ns);
    await run(["ip", "netns", "del", ns]);
    cleaned.add(isLab ? labPrefix(ns) : ns);
  }
  for (const [prefix, alive] of markers) {
    if (alive || (only && ![...only].some((n) => n.startsWith(`${prefix}-`)))) continue;
    await Deno.remove(`${LAB_MARKER_DIR}/${prefix}`, { recursive: true }).catch(() => {});
    cleaned.add(prefix);
  }
  return [...cleaned].sort();
}
