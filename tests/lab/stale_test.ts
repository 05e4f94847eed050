/**
 * Stale cleanup knows every namespace family our code makes, and removes only the leftovers of
 * dead runs: decided from facts (pure), and against the real kernel.
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import { LAB_STRICT } from "./gate.ts";
import { Lab } from "./lab.ts";
import { run } from "./run.ts";
import { isLeftover, NETNS_PREFIXES, prefixOf, THROWAWAY_STALE_AFTER_MS } from "./stale.ts";
import { includes } from "./expect.ts";
import { THROWAWAY_NETNS_PREFIX, throwawayNetnsName } from "../../datapath/command.ts";

const REPO = new URL("../..", import.meta.url).pathname;

/** Every `` `wv<letters>${…}` `` name built in our sources: the throwaway namespace families. */
async function namesBuiltInSources(): Promise<Map<string, string>> {
  const found = new Map<string, string>(); // prefix -> file
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.name === "node_modules" || e.name.startsWith(".")) continue;
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(path);
        for (const m of text.matchAll(/`(wv[a-z]+)\$\{/g)) found.set(m[1], path.slice(REPO.length));
      }
    }
  };
  await walk(REPO.replace(/\/$/, ""));
  return found;
}

Deno.test("stale: every wv… namespace name built in our sources is a family cleanup knows", async () => {
  const built = await namesBuiltInSources();
  const known = NETNS_PREFIXES.map((p) => p.prefix);
  for (const [prefix, file] of built) includes(known, prefix, `NETNS_PREFIXES (${file})`);
  for (const [prefix] of built) {
    strictEqual(prefixOf(`${prefix}1x2y3z`)?.prefix, prefix, `${prefix}1x2y3z`);
  }
});

Deno.test("stale: every name withThrowawayNetns makes is a family cleanup knows", () => {
  for (const tag of ["probe", "plan", "nft", "t", "abcde"]) {
    for (let i = 0; i < 20; i++) {
      const name = throwawayNetnsName(tag);
      strictEqual(prefixOf(name)?.prefix, THROWAWAY_NETNS_PREFIX, name);
    }
  }
});

Deno.test("stale: families are told apart and foreign names are never ours", () => {
  strictEqual(prefixOf("wlk3x9a2-edge-1")?.prefix, "wl");
  strictEqual(prefixOf("wlk3x9a2")?.prefix, "wl");
  strictEqual(prefixOf("wvprobe1a2b3c4d")?.prefix, "wv");
  for (const foreign of ["wvprobe", "wvprobe-mine", "wvprobe123", "wlshort", "wv", "red"]) {
    strictEqual(prefixOf(foreign), null, foreign);
  }
  const prefixes = NETNS_PREFIXES.map((p) => p.prefix);
  deepStrictEqual([...new Set(prefixes)], prefixes, "one entry per prefix");
});

Deno.test("stale: the decision, from the facts", () => {
  const now = 1_000_000_000_000;
  const old = now - THROWAWAY_STALE_AFTER_MS;
  const fresh = now - THROWAWAY_STALE_AFTER_MS + 1;
  const t = (name: string, createdMs: number | null, pids = 0, ownerAlive: boolean | null = null) =>
    isLeftover({ name, createdMs, pids, ownerAlive }, now);
  strictEqual(t("wvprobe1a2b3c4d", old), true, "old, empty throwaway");
  strictEqual(t("wvprobe1a2b3c4d", fresh), false, "fresh throwaway: its test may be running");
  strictEqual(t("wvprobe1a2b3c4d", old, 1), false, "something runs inside");
  strictEqual(t("wvprobe1a2b3c4d", null), false, "unknown age");
  strictEqual(t("wlabcdef-edge-1", null, 3, false), true, "lab whose owner died");
  strictEqual(t("wlabcdef-edge-1", null, 0, null), true, "lab namespace without a marker");
  strictEqual(t("wlabcdef-edge-1", null, 0, true), false, "live lab");
  strictEqual(t("mynamespace", old), false, "not ours");
});

Deno.test(
  "stale: a real throwaway namespace is kept while fresh or busy, reclaimed when old",
  LAB_STRICT,
  async () => {
    const ns = throwawayNetnsName("stale");
    strictEqual((await run(["ip", "netns", "add", ns])).code, 0);
    const present = async () => (await run(["ip", "netns", "list"])).stdout.includes(ns);
    try {
      deepStrictEqual(await Lab.cleanupStale({ names: [ns] }), [], "fresh: kept");
      const later = Date.now() + THROWAWAY_STALE_AFTER_MS + 1000;
      const sleeper = new Deno.Command("ip", {
        args: ["netns", "exec", ns, "sleep", "30"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        // `ip netns exec` enters the namespace before exec'ing sleep; wait until it shows.
        for (let i = 0; i < 100; i++) {
          if ((await run(["ip", "netns", "pids", ns])).stdout.trim() !== "") break;
          await new Promise((r) => setTimeout(r, 20));
        }
        deepStrictEqual(await Lab.cleanupStale({ names: [ns], nowMs: later }), [], "busy: kept");
      } finally {
        sleeper.kill("SIGKILL");
        await sleeper.status;
      }
      strictEqual(await present(), true, `${ns} still there`);
      deepStrictEqual(
        await Lab.cleanupStale({ names: [ns], nowMs: later }),
        [ns],
        "old: reclaimed",
      );
      strictEqual(await present(), false, `${ns} deleted`);
    } finally {
      await run(["ip", "netns", "del", ns]);
    }
  },
);

Deno.test("stale: a live lab of bare namespaces is kept however old", LAB_STRICT, async () => {
  await using lab = await Lab.create({ hosts: 0 });
  const m = await lab.addMachine("probe");
  const far = Date.now() + 100 * THROWAWAY_STALE_AFTER_MS;
  deepStrictEqual(await Lab.cleanupStale({ names: [m.ns], nowMs: far }), []);
  strictEqual((await lab.exec(m, ["ip", "link", "show", "lo"])).code, 0);
});
