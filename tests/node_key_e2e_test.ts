/**
 * Per-peer node keys end to end (#15): two real agents whose weave.yaml gives each a `key:`
 * (made with `weave-agent keygen`), each reading its own key file (`key_file:`). A process on
 * edge-2's box (so from edge-2's address) that knows the fleet password claims edge-2's name
 * with a key of its own: edge-1 refuses it, and the real edge-2's session is untouched (same
 * session, traffic flows). An agent started with a key file that is not the configured key
 * refuses to start.
 */

import { deepStrictEqual, notStrictEqual, strictEqual } from "node:assert";
import { includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { cli, Fleet, fleetYaml } from "./lab/fleet.ts";
import type { AgentStatus } from "../agent/agent.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PASSWORD = "node key test password, long enough for the strength check 6604";

function peerOf(s: AgentStatus, name: string) {
  return s.peers.find((p) => p.name === name)!;
}

Deno.test(
  "node keys e2e: a box claiming another's name with the right password but the wrong key is refused",
  LAB,
  async () => {
    const names = ["edge-1", "edge-2"];
    await using fleet = await Fleet.start({
      hosts: 2,
      password: PASSWORD,
      datapath: "sleeve",
      skip: names,
    });
    const lab = fleet.lab;
    const keys: Record<string, string> = {};
    for (const name of names) {
      const out = `${lab.runDir}/node-${name}.key`;
      const r = await cli(lab, fleet.host(name), ["keygen", "--out", out]);
      strictEqual(r.code, 0, r.stderr);
      keys[name] = r.stdout.trim();
      strictEqual((await Deno.stat(out)).mode! & 0o777, 0o600, `mode of ${out}`);
      // Never over an existing key file.
      const again = await cli(lab, fleet.host(name), ["keygen", "--out", out]);
      strictEqual(again.code, 1, again.stdout);
    }
    for (const name of names) {
      let yaml = fleetYaml(lab, fleet.opts, `${lab.runDir}/secret-${name}.txt`);
      yaml = yaml.replace("version: 1\n", `version: 1\nkey_file: node-${name}.key\n`);
      for (const h of lab.hosts) {
        yaml = yaml.replace(
          `    address: ${h.address}\n`,
          `    address: ${h.address}\n    key: ${keys[h.name]}\n`,
        );
      }
      await Deno.writeTextFile(fleet.configs.get(name)!, yaml);
    }
    for (const h of lab.hosts) await fleet.startAgent(h);
    for (const a of fleet.agents.values()) await a.waitForLog(/agent up/, 60_000);
    const before = await fleet.settled("sleeve", 60_000);
    const session = peerOf(before.get("edge-1")!, "edge-2").control?.sessionId;
    notStrictEqual(session, undefined);

    // The impostor: on edge-2's box, with edge-2's password file, its own key.
    const e1 = fleet.host("edge-1"), e2 = fleet.host("edge-2");
    const imp = await lab.exec(e2, [
      Deno.execPath(),
      "run",
      "-A",
      `${REPO}/tests/tools/impostor_dial.ts`,
      "edge-2",
      `${lab.runDir}/secret-edge-2.txt`,
      e1.address,
      "6783",
      "edge-1",
    ], { timeoutMs: 30_000 });
    const verdict = /verdict (.*)/.exec(imp.stdout)?.[1] ??
      `no verdict: ${imp.stdout} ${imp.stderr}`;
    console.log(`impostor: ${verdict}`);
    notStrictEqual(verdict, "up", "the impostor got a session");
    includes(verdict, "key", "the impostor's refusal");

    // The real edge-2 is unaffected: same session on both ends, up, traffic flows.
    const ping = await lab.exec(e1, [
      "ping",
      "-c",
      "3",
      "-i",
      "0.2",
      "-W",
      "2",
      fleet.overlayAddress(before.get("edge-2")!, "net1"),
    ]);
    strictEqual(ping.code, 0, ping.stdout);
    const after = await fleet.waitForStatus(() => true);
    const p = peerOf(after.get("edge-1")!, "edge-2");
    deepStrictEqual(
      [p.state, p.control?.sessionId, p.lastError],
      ["up", session, null],
      "edge-1's view of edge-2",
    );

    // A key file that is not the configured key: the agent refuses to start.
    await fleet.agents.get("edge-2")!.stop();
    fleet.agents.delete("edge-2");
    const other = `${lab.runDir}/other-edge-2.key`;
    strictEqual((await cli(lab, e2, ["keygen", "--out", other])).code, 0);
    await Deno.writeTextFile(
      fleet.configs.get("edge-2")!,
      (await Deno.readTextFile(fleet.configs.get("edge-2")!)).replace(
        "key_file: node-edge-2.key",
        "key_file: other-edge-2.key",
      ),
    );
    const bad = await fleet.startAgent(e2);
    await bad.waitForLog(/is not the key weave\.yaml gives peer edge-2/, 30_000);
  },
);
