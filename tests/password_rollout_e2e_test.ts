/**
 * Password rotation across a fleet without downtime (#14), as a GitOps rollout does it: three
 * boxes, each with its own copy of weave.yaml, all on password A; box 1, then 2, then 3 move to
 * {current B, previous A}; then all drop A. A numbered UDP stream runs each way between every
 * pair through all of it and loses nothing; every session moves to B as soon as both ends have
 * it and says `current` at the end, on the control session it started with (no restart). Then
 * only the content of box 3's password file changes (back to A): that takes effect, and box 3
 * is refused by the others with `password mismatch`.
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import { includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { Fleet, fleetYaml } from "./lab/fleet.ts";
import { missingOf, startUdpStream, streamResult } from "./lab/udp_streams.ts";
import type { AgentStatus } from "../agent/agent.ts";

const A = "rollout password A: the one being rotated out, long enough 8812";
const B = "rollout password B: the new one, also long enough for the check 2290";
// 6 streams of 100 datagrams a second for 70 s: the rollout's steps all fall inside them.
const STREAM = { count: 7000, rate: 100 };

type Slots = { current: string; previous?: string };

/** Writes box `name`'s password file(s) and its own weave.yaml naming them. */
async function configure(fleet: Fleet, name: string, slots: Slots, step: number): Promise<void> {
  const lab = fleet.lab;
  const cur = await lab.writeFile(`current-${name}-${step}.txt`, slots.current + "\n", 0o600);
  let yaml = fleetYaml(lab, fleet.opts, cur);
  if (slots.previous !== undefined) {
    const prev = await lab.writeFile(`previous-${name}-${step}.txt`, slots.previous + "\n", 0o600);
    yaml = yaml.replace(`  file: ${cur}\n`, `  file: ${cur}\n  previous: {file: ${prev}}\n`);
  }
  await Deno.writeTextFile(fleet.configs.get(name)!, yaml);
}

/** name → peer → [password in use, session id, state]. */
function sessions(all: Map<string, AgentStatus>) {
  const out: Record<string, Record<string, [string | null, number | null, string]>> = {};
  for (const [name, s] of all) {
    out[name] = Object.fromEntries(
      s.peers.map((p) => [p.name, [p.password, p.control?.sessionId ?? null, p.state]]),
    );
  }
  return out;
}

Deno.test(
  "password rollout e2e: A → {B, previous A} box by box → B, no datagram lost, every session current",
  LAB,
  async () => {
    await using fleet = await Fleet.start({
      hosts: 3,
      password: A,
      datapath: "sleeve",
      logLevel: "info",
    });
    const names = fleet.lab.hosts.map((h) => h.name);
    const start = await fleet.settled("sleeve", 90_000);
    const ids = (all: Map<string, AgentStatus>) =>
      Object.fromEntries(
        [...all].map(([n, s]) => [n, s.peers.map((p) => p.control?.sessionId ?? null)]),
      );
    const idsAtStart = ids(start);

    const streams = [];
    for (const from of names) {
      for (const to of names) {
        if (from === to) continue;
        const dst = fleet.overlayAddress(start.get(to)!, "net1");
        const port = 7500 + names.indexOf(from) * 10 + names.indexOf(to);
        streams.push(await startUdpStream(fleet, from, to, dst, port, STREAM.count, STREAM.rate));
      }
    }

    /** Waits until the password in use of every session is what `want(box, peer)` says. */
    const expect = async (what: string, want: (box: number, peer: number) => string) => {
      const all = await fleet.waitForStatus(
        (all) =>
          [...all].every(([n, s]) =>
            s.peers.every((p) =>
              p.state === "up" && p.password === want(names.indexOf(n), names.indexOf(p.name))
            )
          ),
        60_000,
      );
      console.log(`${what}: ${JSON.stringify(sessions(all))}`);
    };

    // Box i holds B from step i on (1-based); a pair uses B once both ends hold it.
    let step = 0;
    const holdsB = (box: number) => box < step;
    const inUse = (box: number, peer: number) =>
      holdsB(box) && holdsB(peer) ? "current" : holdsB(box) ? "previous" : "current";
    for (step = 1; step <= 3; step++) {
      await configure(fleet, names[step - 1], { current: B, previous: A }, step);
      await expect(`box ${step} on {B, previous A}`, inUse);
    }
    for (const name of names) await configure(fleet, name, { current: B }, 4);
    await expect("A dropped everywhere", () => "current");

    const results = await Promise.all(streams.map((s) => streamResult(s, 180_000)));
    console.log(results.join("\n"));
    for (const line of results) strictEqual(missingOf(line), 0, line);
    // No session restarted: the same control sessions carried the whole rollout.
    const end = await fleet.waitForStatus(() => true);
    deepStrictEqual(ids(end), idsAtStart, "control session ids before and after the rollout");

    // Only the content of box 3's password file changes (to A): a password change.
    const third = names[2];
    await Deno.writeTextFile(`${fleet.lab.runDir}/current-${third}-4.txt`, A + "\n");
    await fleet.waitForStatus(
      (all) =>
        [...all].every(([n, s]) =>
          n === third || s.peers.find((p) => p.name === third)?.state === "auth-failed"
        ),
      60_000,
    );
    for (const name of names.slice(0, 2)) {
      const log = await fleet.agents.get(name)!.readLog();
      includes(log, `password mismatch with peer ${third} at ${fleet.host(third).address}`, name);
      const s = await fleet.status(name);
      // The other pair is untouched.
      const other = s!.peers.find((p) => p.name !== third)!;
      deepStrictEqual([other.state, other.password], ["up", "current"], `${name}: ${other.name}`);
    }
  },
);
