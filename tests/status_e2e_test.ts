/**
 * What an operator sees: status and metrics move during a transfer, the control socket is
 * root-only, reload keeps the last good config.
 */

import { match, notStrictEqual, strictEqual } from "node:assert";
import { cli, Fleet, randomBytes, transfer } from "./lab/fleet.ts";
import { above, atLeast, includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";

const PASSWORD = "status test passphrase that is long enough 5521";

async function metrics(fleet: Fleet, host: string): Promise<string> {
  const r = await fleet.lab.exec(fleet.host(host), [
    Deno.execPath(),
    "eval",
    'const r = await fetch("http://127.0.0.1:9109/metrics"); console.log(await r.text());',
  ]);
  return r.stdout;
}

function metric(text: string, name: string, peer: string): number {
  const m = new RegExp(`^${name}\\{peer="${peer}"\\} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

Deno.test({
  ...LAB,
  name:
    "status e2e: counters move in status and metrics during a transfer; the socket is root-only",
  async fn() {
    await using fleet = await Fleet.start({
      hosts: 2,
      password: PASSWORD,
      datapath: "sleeve",
      extra: ["metrics: 127.0.0.1:9109"],
    });
    const statuses = await fleet.settled("sleeve");
    const [a, b] = fleet.lab.hosts;
    const before = (await fleet.status(a.name))!.peers[0].sleeve!;
    const m0 = await metrics(fleet, a.name);
    const file = await fleet.lab.writeFile("p.bin", randomBytes(1 << 20));
    const [sent, got] = await transfer(
      fleet,
      a.name,
      b.name,
      fleet.overlayAddress(statuses.get(b.name)!, "net1"),
      7400,
      file,
    );
    strictEqual(got, sent);
    const after = (await fleet.status(a.name))!.peers[0].sleeve!;
    const context = JSON.stringify({ before, after });
    atLeast(after.txBytes - before.txBytes, 1 << 20, "status txBytes moved", context);
    above(after.txPackets, before.txPackets, "status txPackets", context);
    const m1 = await metrics(fleet, a.name);
    const tx0 = metric(m0, "weave_sleeve_tx_bytes", b.name);
    const tx1 = metric(m1, "weave_sleeve_tx_bytes", b.name);
    atLeast(tx1 - tx0, 1 << 20, `weave_sleeve_tx_bytes moved (${tx0} -> ${tx1})`, m1);
    strictEqual(metric(m1, "weave_peer_up", b.name), 1);

    // Human status names the peer, its datapath and why.
    const human = await cli(fleet.lab, a, ["status", "--name", a.name]);
    strictEqual(human.code, 0);
    includes(human.stdout, "the config sets datapath: sleeve", "human status");

    // Root-only: the socket is 0600 in a 0700 folder, and an unprivileged user is refused.
    const sock = `${fleet.lab.agentRunDir}/${a.name}.sock`;
    strictEqual((await Deno.stat(sock)).mode! & 0o777, 0o600);
    strictEqual((await Deno.stat(fleet.lab.agentRunDir)).mode! & 0o777, 0o700);
    const nobody = await fleet.lab.exec(a, [
      "setpriv",
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "python3",
      "-c",
      `import socket; s = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(sock)})`,
    ]);
    notStrictEqual(nobody.code, 0, "an unprivileged user reached the control socket");
    match(nobody.stderr, /PermissionError|Permission denied/);
  },
});

Deno.test({
  ...LAB,
  name: "reload e2e: a broken config is refused and the last good one stays; a good one applies",
  async fn() {
    await using fleet = await Fleet.start({ hosts: 2, password: PASSWORD, datapath: "sleeve" });
    await fleet.settled("sleeve");
    const a = fleet.host("edge-1");
    const path = fleet.configs.get("edge-1")!;
    const good = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, good.replace("version: 1", "version: 1\nbogus_key: 3"));
    const agent = fleet.agents.get("edge-1")!;
    await agent.waitForLog(/reload \(file change\) refused/, 10_000);
    await agent.waitForLog(/unknown key "bogus_key"/, 10_000);
    let s = (await fleet.status("edge-1"))!;
    strictEqual(s.config.lastReload?.ok, false);
    strictEqual(s.peers[0].state, "up", "the session survived the bad reload");

    // A good change: add a second network with SIGHUP.
    await Deno.writeTextFile(
      path,
      good.replace("networks:\n", "networks:\n  - name: extra\n    subnet: 10.40.9.0/24\n"),
    );
    agent.process.kill("SIGHUP"); // `ip netns exec` execs the agent: same pid
    await agent.waitForLog(/config reloaded.*networks changed/, 10_000);
    s = (await fleet.status("edge-1"))!;
    strictEqual(s.networks.map((n) => n.name).sort().join(","), "extra,net1");
    strictEqual(s.peers[0].state, "up", "sessions untouched by a network change");
    const link = await fleet.lab.exec(a, ["ip", "link", "show", "wvb-extra"]);
    strictEqual(link.code, 0, "the new network's bridge exists");
  },
});
