/**
 * Ten real agents (#16): underlay links cut at random (nft, both ways) while the graph stays
 * connected; every box still reaches every other: a direct session, or one relayed through the
 * box its route goes via (a ping crosses one such pair); then cut enough to split the fleet in
 * two: each side's `status` says the other side is unreachable, and why.
 * Connectivity of the cut graph is computed here by a plain BFS, independent of routes.ts.
 */

import { strictEqual } from "node:assert";
import type { AgentStatus } from "../agent/agent.ts";
import { Fleet } from "./lab/fleet.ts";
import { includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import type { LabFault } from "./lab/lab.ts";

const PASSWORD = "ten boxes topology passphrase, long enough 3307";

/** Is the graph of `names` minus `cut` (pairs "x|y") connected? */
function connected(names: string[], cut: Set<string>): boolean {
  const seen = new Set([names[0]]);
  const todo = [names[0]];
  while (todo.length) {
    const x = todo.pop()!;
    for (const y of names) {
      if (!seen.has(y) && !cut.has(pair(x, y))) {
        seen.add(y);
        todo.push(y);
      }
    }
  }
  return seen.size === names.length;
}
const pair = (x: string, y: string) => x < y ? `${x}|${y}` : `${y}|${x}`;
const kinds = (s: AgentStatus) =>
  s.peers.map((p) => `${p.name}:${p.route?.kind ?? "none"}`).join(" ");

Deno.test({
  ...LAB,
  name: "topology e2e: ten boxes, random cuts keep every pair routed; a split says who and why",
  async fn() {
    await using fleet = await Fleet.start({
      hosts: 10,
      password: PASSWORD,
      datapath: "sleeve",
      logLevel: "info",
    });
    const names = fleet.lab.hosts.map((h) => h.name);
    await fleet.settled("sleeve", 90_000);

    // Cut 15 random links, never one that would disconnect the graph.
    let seed = 16;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const cut = new Set<string>();
    const faults: LabFault[] = [];
    while (cut.size < 15) {
      const [x, y] = [names[Math.floor(rand() * 10)], names[Math.floor(rand() * 10)]];
      if (x === y || cut.has(pair(x, y))) continue;
      const next = new Set([...cut, pair(x, y)]);
      if (!connected(names, next)) continue;
      cut.add(pair(x, y));
      faults.push(await fleet.lab.partition(x, y));
    }
    const routed = await fleet.waitForStatus(
      (all) =>
        [...all.values()].every((s) =>
          s.peers.every((p) =>
            p.state === "up" &&
            (cut.has(pair(s.peer, p.name))
              ? p.route?.kind === "via" && !!p.control?.via
              : p.route?.kind === "direct" && !p.control?.via)
          )
        ),
      60_000,
    );
    // Overlay traffic crosses a relayed pair.
    const [x, y] = [...cut][0].split("|");
    const dst = fleet.overlayAddress(routed.get(y)!, "net1");
    const ping = await fleet.lab.exec(x, ["ping", "-c", "3", "-i", "0.2", "-W", "2", dst]);
    strictEqual(ping.code, 0, `${x} -> ${y} (relayed): ${ping.stdout}${ping.stderr}`);
    for (const s of routed.values()) {
      strictEqual(kinds(s).includes("unreachable"), false, `${s.peer}: ${kinds(s)}`);
    }

    // Split {edge-1, edge-2, edge-3} from the rest.
    const left = names.slice(0, 3), right = names.slice(3);
    for (const x of left) {
      for (const y of right) {
        if (cut.has(pair(x, y))) continue;
        cut.add(pair(x, y));
        faults.push(await fleet.lab.partition(x, y));
      }
    }
    const split = await fleet.waitForStatus(
      (all) =>
        [...all.values()].every((s) =>
          s.peers.every((p) =>
            (left.includes(s.peer) !== left.includes(p.name)) ===
              (p.route?.kind === "unreachable")
          )
        ),
      60_000,
    );
    const r = split.get(left[0])!.peers.find((p) => p.name === right[0])!.route!;
    strictEqual(r.kind, "unreachable");
    if (r.kind === "unreachable") {
      includes(r.why, "does not reach", `why ${right[0]} is unreachable from ${left[0]}`);
    }
    for (const f of faults) await f.undo();
  },
});
