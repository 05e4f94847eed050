/**
 * Kernel switches read and written through `/proc/sys` by the agent's own process, for the
 * network namespace it runs in: what `sysctl KEY` and `sysctl -qw KEY=VALUE` do, without a
 * process each. `/proc/sys/net` shows the namespace of the process that reads it (unlike
 * `/sys`, whose view is fixed when it is mounted), so this is exact for the agent's own box. A
 * reconcile of another namespace (`netns` option: tests, `plan` of a lab host) still runs the
 * `sysctl` command inside it.
 *
 * Why: a start reads and writes these once each, and the 30-second repair reads them again;
 * every spawn of a helper costs the agent ≈ 3 ms of CPU to fork a process of its size, plus the
 * helper's own start, which adds up when fifty agents boot on one small box.
 *
 * May import: nothing of ours.
 *
 * @module
 */

/** A sysctl key we manage: dotted words of `[a-z0-9_-]` (link names carry no dots here). */
const KEY_RE = /^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/;
/** The values we set: small integers. */
const VALUE_RE = /^[0-9]+$/;

/** `/proc/sys/…` of a key; throws on a key that is not a plain dotted name. */
export function procSysPath(key: string): string {
  if (!KEY_RE.test(key)) throw new RangeError(`not a sysctl key: ${JSON.stringify(key)}`);
  return `/proc/sys/${key.replaceAll(".", "/")}`;
}

/** Current values of `keys`; a key the kernel does not have (no br_netfilter) is left out. */
export async function readProcSysctls(keys: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all(keys.map(async (k) => {
    try {
      out[k] = (await Deno.readTextFile(procSysPath(k))).trim();
    } catch {
      // Absent, like `sysctl` printing nothing for it: the planner then sets it, and that
      // write's error says why.
    }
  }));
  return out;
}

/**
 * Writes `KEY=VALUE` items in order; returns null, or the first failure in the words `sysctl -w`
 * would use. Refuses items that are not a plain key and a number.
 */
export async function writeProcSysctls(items: readonly string[]): Promise<string | null> {
  for (const item of items) {
    const eq = item.indexOf("=");
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (eq < 0 || !KEY_RE.test(key) || !VALUE_RE.test(value)) {
      return `refusing sysctl item ${JSON.stringify(item)}`;
    }
    try {
      await Deno.writeTextFile(procSysPath(key), value);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? `cannot stat ${procSysPath(key)}: No such file or directory`
        : `setting key "${key}": ${e instanceof Error ? e.message : String(e)}`;
      return `sysctl -w: ${why} (${items.join(" ")})`;
    }
  }
  return null;
}
