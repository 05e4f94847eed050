/**
 * The sleeve's packet worker at realtime priority (issue #18), against the attacker it must
 * not hand the box to: real agents, the kernel's own view of each worker thread's policy
 * (`chrt -p`), and a flood of forged datagrams from the underlay.
 *
 * @module
 */

import { strictEqual } from "node:assert";
import { above } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { Fleet } from "./lab/fleet.ts";
import { packetWorkerThreads } from "../bench/latency.ts";
import type { AgentStatus } from "../agent/agent.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PASSWORD = "correct horse battery staple, but longer 7731";

/** The kernel's word on the policy of agent `pid`'s packet worker thread. */
async function workerPolicy(pid: number): Promise<string> {
  const [schedstat] = packetWorkerThreads([pid]);
  const tid = schedstat.split("/")[4];
  const out = await new Deno.Command("chrt", { args: ["-p", tid], stdout: "piped" }).output();
  const m = new TextDecoder().decode(out.stdout).match(/scheduling policy: (SCHED_\w+)/);
  return m?.[1] ?? "unknown";
}

/** Polls `f` every 200 ms until it returns true, up to `ms`; whether it did. */
async function eventually(ms: number, f: () => Promise<boolean>): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

function peerState(s: AgentStatus | null, peer: string): string {
  return s?.peers.find((p) => p.name === peer)?.state ?? "missing";
}

Deno.test({
  name: "sleeve realtime: a flood of forged datagrams sends the worker back to the ordinary " +
    "policy, the session survives, realtime returns after; WEAVE_SLEEVE_REALTIME=off is obeyed",
  ...LAB,
  async fn() {
    await using fleet = await Fleet.start({
      hosts: 2,
      password: PASSWORD,
      datapath: "sleeve",
      envFor: { "edge-1": { WEAVE_SLEEVE_REALTIME: "off" } },
    });
    const statuses = await fleet.settled("sleeve");
    const [a, b] = fleet.lab.hosts;
    const pidA = fleet.agents.get(a.name)!.pid, pidB = fleet.agents.get(b.name)!.pid;
    const sa = statuses.get(a.name)!, sb = statuses.get(b.name)!;

    // Switched off on edge-1: the ordinary policy, and status says why.
    strictEqual(await workerPolicy(pidA), "SCHED_OTHER");
    strictEqual(sa.sleeve?.priority.realtime, false);
    strictEqual(sa.sleeve?.priority.why, "WEAVE_SLEEVE_REALTIME=off");
    // The default on edge-2: realtime, in the kernel's view as well as its own.
    strictEqual(await workerPolicy(pidB), "SCHED_FIFO");
    strictEqual(sb.sleeve?.priority.realtime, true);
    strictEqual(sb.sleeveDrops?.realtime, 1);

    // The attacker saw edge-1 -> edge-2 datagrams on the underlay: it knows the VNI and the
    // receiver index, and sends junk under them as fast as it can, each with a fresh sequence
    // number, so every one costs edge-2 an AEAD open.
    const index = sb.peers.find((p) => p.name === a.name)!.sleeveIndex!;
    const vni = sb.networks[0].vni;
    const authBefore = sb.peers.find((p) => p.name === a.name)!.sleeve!.drops.auth;
    const flood = fleet.lab.exec(a, [
      "python3",
      `${REPO}/tests/tools/sleeve_flood.py`,
      b.address,
      "6783",
      String(vni),
      String(index),
      "5",
    ], { timeoutMs: 30_000 });
    let sawOrdinary = false, stayedUp = true;
    const left = await eventually(4500, async () => {
      const s = await fleet.status(b.name);
      if (peerState(s, a.name) !== "up") stayedUp = false;
      if (s?.sleeve?.priority.realtime === false && s.sleeve.priority.exits >= 1) {
        sawOrdinary = (await workerPolicy(pidB)) === "SCHED_OTHER";
      }
      return sawOrdinary;
    });
    const sent = Number((await flood).stdout.trim());
    above(sent, 100_000, "forged datagrams sent", (await flood).stderr);
    strictEqual(left, true, "edge-2's worker left realtime during the flood");

    const after = (await fleet.status(b.name))!;
    const auth = after.peers.find((p) => p.name === a.name)!.sleeve!.drops.auth - authBefore;
    // Counted as forgeries (the rest died in the kernel's full receive buffer, as they should).
    above(auth, 50_000, "auth drops on edge-2", JSON.stringify(after.sleeveDrops));
    strictEqual(after.sleeveDrops?.realtimeExits !== undefined, true);
    above(after.sleeveDrops!.realtimeExits, 0, "realtime exits", JSON.stringify(after.sleeve));
    strictEqual(stayedUp && peerState(after, a.name) === "up", true, "the session stayed up");

    // The flood is over: realtime again, and the overlay carries traffic both ways.
    const back = await eventually(10_000, async () => {
      const s = await fleet.status(b.name);
      return s?.sleeve?.priority.realtime === true && (await workerPolicy(pidB)) === "SCHED_FIFO";
    });
    strictEqual(back, true, "edge-2's worker back at realtime after the flood");
    const dst = fleet.overlayAddress(after, "net1");
    const ping = await fleet.lab.exec(a, ["ping", "-c", "5", "-i", "0.2", "-W", "2", dst]);
    strictEqual(ping.code, 0, ping.stdout);
    strictEqual(/5 received/.test(ping.stdout), true, ping.stdout);
  },
});
