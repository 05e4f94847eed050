/**
 * The host planner against the real kernel, in throwaway namespaces: apply, observe, plan again
 * is empty; the nft tables the plan writes load as one transaction and read back unchanged;
 * `down` leaves nothing of ours and every foreign link; the throwaway-namespace helper always
 * removes its namespace.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { LAB } from "./lab/gate.ts";
import { runCommand, withThrowawayNetns } from "../datapath/command.ts";
import { planHost, renderPlan, teardownPlan } from "../datapath/host/plan.ts";
import { observeHost } from "../datapath/host/observe.ts";
import { applyChanges } from "../datapath/host/apply.ts";
import { EMPTY_OBSERVED } from "../datapath/host/desired.ts";
import { encryptedDesired } from "../datapath/host/testdata/fixtures.ts";
import { ISOLATION_TABLE, NFT_TABLE } from "../datapath/host/nft_table.ts";

async function netnsExists(ns: string): Promise<boolean> {
  const r = await runCommand("ip", ["netns", "list"]);
  return r.stdout.split("\n").some((l) => l.split(" ")[0] === ns);
}

async function underlay(ns: string): Promise<void> {
  const ip = (...a: string[]) => runCommand("ip", ["-n", ns, ...a]);
  await ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
  await ip("address", "add", "192.0.2.10/24", "dev", "eth0");
  await ip("link", "set", "eth0", "up");
}

Deno.test({
  name: "host lab: apply, observe, plan again is empty; down removes all of ours, nothing else",
  ...LAB,
  fn: () =>
    withThrowawayNetns("pl", async (ns) => {
      await underlay(ns);
      const d = encryptedDesired();
      d.esp = []; // this kernel has no ESP: plain VXLAN here, ESP runs under kvm-esp
      const first = planHost(d, await observeHost({ netns: ns }));
      const r = await applyChanges(first, { netns: ns });
      // One process per tool and phase: ip; nft (both tables) and sysctl; ip and bridge; ...
      ok(r.spawns <= 6, `batched: ${r.spawns} processes for ${first.length} changes`);
      const again = planHost(d, await observeHost({ netns: ns }));
      deepStrictEqual(again.map((c) => c.description), [], renderPlan(again));
      const observed = await observeHost({ netns: ns });
      deepStrictEqual(Object.keys(observed.nft).sort(), [NFT_TABLE, ISOLATION_TABLE].sort());
      await applyChanges(teardownPlan(observed), { netns: ns });
      const { observedAt: _, sysctls: __, ...left } = await observeHost({ netns: ns });
      deepStrictEqual(left, { ...EMPTY_OBSERVED, fdb: {} });
      const all = await runCommand("ip", ["-n", ns, "-json", "link", "show"]);
      const names = (JSON.parse(all.stdout) as { ifname: string }[]).map((l) => l.ifname);
      deepStrictEqual(names.sort(), ["eth0", "eth1", "lo"]);
    }),
});

Deno.test({
  name: "host lab: the guard and isolation tables load in one nft transaction and read back",
  ...LAB,
  fn: () =>
    withThrowawayNetns("nft", async (ns) => {
      const nft = planHost(encryptedDesired(), EMPTY_OBSERVED).filter((c) => c.kind === "nft");
      strictEqual(nft.length, 2);
      const r = await applyChanges(nft, { netns: ns });
      strictEqual(r.spawns, 1, "both tables in one nft -f");
      const observed = await observeHost({ netns: ns });
      deepStrictEqual(Object.keys(observed.nft).sort(), [NFT_TABLE, ISOLATION_TABLE].sort());
      // Observed back, it is what the planner wants: no change on the next pass.
      const next = planHost(encryptedDesired(), observed).filter((c) => c.kind === "nft");
      deepStrictEqual(next.map((c) => c.description), []);
      // Someone deletes a rule: the next plan reloads that table, and only that one.
      const list = await runCommand("nft", [
        "-a",
        "list",
        "chain",
        "inet",
        ISOLATION_TABLE,
        "input",
      ], {
        netns: ns,
      });
      const handle = /counter packets \d+ bytes \d+ drop # handle (\d+)/.exec(list.stdout)?.[1];
      ok(handle, list.stdout);
      const del = await runCommand(
        "nft",
        ["delete", "rule", "inet", ISOLATION_TABLE, "input", "handle", handle],
        { netns: ns },
      );
      ok(del.ok, del.stderr);
      const repaired = planHost(encryptedDesired(), await observeHost({ netns: ns })).filter((c) =>
        c.kind === "nft"
      );
      deepStrictEqual(repaired.map((c) => c.args[0].split("\n")[0]), [
        `table inet ${ISOLATION_TABLE}`,
      ]);
      await applyChanges(teardownPlan(await observeHost({ netns: ns })), { netns: ns });
      deepStrictEqual((await observeHost({ netns: ns })).nft, {});
    }),
});

Deno.test({
  name: "host lab: the throwaway namespace is removed after the body, also when it throws",
  ...LAB,
  async fn() {
    let seen = "";
    await withThrowawayNetns("pl", async (ns) => {
      seen = ns;
      ok(await netnsExists(ns), `${ns} exists inside the body`);
    });
    ok(/^wvpl[a-z0-9]{8}$/.test(seen), seen);
    strictEqual(await netnsExists(seen), false, `${seen} removed`);
    let thrown = "";
    await withThrowawayNetns("pl", (ns) => {
      thrown = ns;
      throw new Error("body failed");
    }).catch((e) => strictEqual((e as Error).message, "body failed"));
    strictEqual(await netnsExists(thrown), false, `${thrown} removed after a throw`);
  },
});
