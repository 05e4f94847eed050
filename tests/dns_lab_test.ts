/**
 * A peer given by DNS name (#15), with real agents: edge-1's weave.yaml names edge-2
 * `edge-2.weave.test`, which only edge-1's namespace resolves (`/etc/netns/<ns>/hosts`, what
 * `ip netns exec` puts over /etc/hosts). edge-1 resolves it at its dial and the pair comes up.
 * Then the name is re-pointed to another box's address and edge-2 moves there (same name, same
 * key): edge-1's next dial resolves the name afresh and reaches it; nothing was cached. The
 * boxes running edge-2 may not dial edge-1 (nft), so only edge-1's dials can make the pair.
 * The hosts file is removed also when the test fails.
 */

import { strictEqual } from "node:assert";
import { includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { Lab, type LabHost } from "./lab/lab.ts";
import { cli } from "./lab/fleet.ts";
import { allUp, startKeyedAgent, waitForAll, writeKeyedFleet } from "./lab/nat.ts";
import type { AgentStatus } from "../agent/agent.ts";

const NAME = "edge-2.weave.test";

async function statusAs(lab: Lab, host: LabHost, name: string): Promise<AgentStatus | null> {
  const r = await cli(lab, host, ["status", "--json", "--name", name]);
  return r.code === 0 ? JSON.parse(r.stdout) as AgentStatus : null;
}

Deno.test("dns lab: a peer given by DNS name is resolved again at every dial", LAB, async () => {
  await using lab = await Lab.create({ hosts: ["edge-1", "edge-2", "edge-3"] });
  const e1 = lab.host("edge-1"), e2 = lab.host("edge-2"), e3 = lab.host("edge-3");
  const hostsDir = `/etc/netns/${e1.ns}`;
  const point = (to: LabHost) =>
    Deno.writeTextFile(`${hostsDir}/hosts`, `127.0.0.1 localhost\n${to.address} ${NAME}\n`);
  try {
    await Deno.mkdir(hostsDir, { recursive: true });
    await point(e2);
    const configs = await writeKeyedFleet(lab, [
      { name: "edge-1", address: e1.address },
      { name: "edge-2", address: NAME },
    ], "dns lab test password, long enough for the strength check 8080");
    for (const h of [e2, e3]) {
      await lab.exec(h, ["nft", "-f", "-"], {
        check: true,
        stdin: [
          "table ip weave_lab_nodial {",
          "  chain output {",
          "    type filter hook output priority 0; policy accept;",
          `    ip daddr ${e1.address} tcp dport 6783 ct state new drop`,
          "  }",
          "}",
        ].join("\n"),
      });
    }
    const a1 = await startKeyedAgent(lab, e1, configs);
    const first = await startKeyedAgent(lab, e2, configs);
    await a1.waitForLog(/agent up/, 60_000);
    await first.waitForLog(/agent up/, 60_000);
    const up = await waitForAll(lab, [e1, e2], allUp, 60_000);
    const v = up.get("edge-1")!.peers.find((p) => p.name === "edge-2")!;
    strictEqual(`${v.address} ${v.reach}`, `${NAME}:6783 dns`, "edge-1's view of edge-2");
    includes(v.reason, "given by DNS name", "why the pair is on the sleeve");
    includes(
      await a1.readLog(),
      `peer name resolved peer=edge-2 host=${NAME} address=${e2.address}`,
      "edge-1's log",
    );

    // Re-point the name, and move edge-2 to the box it now names.
    await point(e3);
    await first.stop();
    const moved = await lab.startAgent(e3, [
      "-c",
      configs.get("edge-2")!,
      "--name",
      "edge-2",
      "--log-level",
      "debug",
    ]);
    await moved.waitForLog(/agent up/, 60_000);
    await a1.waitForLog(
      new RegExp(
        `peer name resolved peer=edge-2 host=${NAME.replaceAll(".", "\\.")} address=${
          e3.address.replaceAll(".", "\\.")
        }`,
      ),
      60_000,
    );
    const deadline = Date.now() + 60_000;
    let s: AgentStatus | null = null;
    while (Date.now() < deadline) {
      s = await statusAs(lab, e3, "edge-2");
      if (s?.peers.every((p) => p.state === "up")) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    strictEqual(s?.peers[0]?.state, "up", "edge-2 (moved) with edge-1");
    const ping = await lab.exec(e1, [
      "ping",
      "-c",
      "3",
      "-i",
      "0.2",
      "-W",
      "2",
      s!.networks[0].address,
    ]);
    strictEqual(ping.code, 0, `ping edge-1 -> edge-2 at its new box: ${ping.stdout}`);
  } catch (e) {
    lab.markFailed();
    throw e;
  } finally {
    await Deno.remove(hostsDir, { recursive: true }).catch(() => {});
  }
});
