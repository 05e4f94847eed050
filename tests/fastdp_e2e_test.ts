/**
 * Fast datapath with real agents: plain VXLAN between three hosts (this kernel has no ESP),
 * per-peer fallback to the sleeve, idempotent reconcile, `down`, and the encrypted fallback.
 */

import { doesNotMatch, match, strictEqual } from "node:assert";
import { cli, Fleet, randomBytes, transfer } from "./lab/fleet.ts";
import { includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";

async function json(fleet: Fleet, host: string, argv: string[]) {
  const r = await fleet.lab.exec(fleet.host(host), argv);
  return JSON.parse(r.stdout || "[]");
}

Deno.test({
  ...LAB,
  name:
    "fastdp e2e: three hosts without a password: VXLAN as planned, traffic, no-op reconcile, down",
  async fn() {
    await using fleet = await Fleet.start({ hosts: 3, password: null, datapath: "auto" });
    const statuses = await fleet.settled("fastdp");
    const names = ["edge-1", "edge-2", "edge-3"];
    for (const s of statuses.values()) {
      for (const p of s.peers) strictEqual(p.reason, "heartbeat through VXLAN answered both ways");
    }
    // Devices and forwarding entries exactly as planned.
    for (const name of names) {
      const s = statuses.get(name)!;
      const vni = s.networks[0].vni;
      const [link] = await json(fleet, name, [
        "ip",
        "-json",
        "-details",
        "link",
        "show",
        "wvx-net1",
      ]);
      strictEqual(link.linkinfo.info_data.id, vni);
      strictEqual(link.linkinfo.info_data.learning, false);
      strictEqual(link.master, "wvb-net1");
      const fdb = await json(fleet, name, ["bridge", "-json", "fdb", "show", "dev", "wvx-net1"]);
      const flood = fdb.filter((e: { mac: string; dst?: string }) => e.mac === "00:00:00:00:00:00")
        .map((e: { dst: string }) => e.dst).sort();
      const others = fleet.lab.hosts.filter((h) => h.name !== name).map((h) => h.address).sort();
      strictEqual(JSON.stringify(flood), JSON.stringify(others), `${name} flood entries`);
    }
    // Traffic within the network, every pair.
    const file = await fleet.lab.writeFile("payload.bin", randomBytes(512 * 1024));
    let port = 7300;
    for (const [from, to] of [["edge-1", "edge-2"], ["edge-2", "edge-3"], ["edge-3", "edge-1"]]) {
      const dst = fleet.overlayAddress(statuses.get(to)!, "net1");
      const ping = await fleet.lab.exec(fleet.host(from), [
        "ping",
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "2",
        dst,
      ]);
      strictEqual(ping.code, 0, `${from} -> ${to}: ${ping.stdout}`);
      const [sent, got] = await transfer(fleet, from, to, dst, port++, file);
      strictEqual(got, sent);
    }
    // A second reconcile is a no-op: the running agent's plan is empty.
    for (const name of names) {
      const plan = await cli(fleet.lab, fleet.host(name), ["plan", "--json", "--name", name]);
      strictEqual(JSON.parse(plan.stdout).changes, 0, plan.stdout);
    }
    // down removes everything the agent owns, and nothing else.
    const h = fleet.host("edge-1");
    await fleet.lab.exec(h, ["ip", "link", "add", "keepme0", "type", "bridge"]);
    await fleet.agents.get("edge-1")!.stop();
    const down = await cli(fleet.lab, h, ["down", "--name", "edge-1"]);
    strictEqual(down.code, 0, down.stderr);
    const links = (await json(fleet, "edge-1", ["ip", "-json", "link", "show"]))
      .map((l: { ifname: string }) => l.ifname);
    strictEqual(links.filter((n: string) => n.startsWith("wv")).length, 0, links.join(" "));
    includes(links, "keepme0", "links after down");
    const tables = await fleet.lab.exec(h, ["nft", "list", "tables"]);
    doesNotMatch(tables.stdout, /weave/);
  },
});

Deno.test({
  ...LAB,
  name:
    "fastdp e2e: blocked VXLAN between two hosts: that pair falls back to sleeve, the others stay fast",
  async fn() {
    await using fleet = await Fleet.start({
      hosts: 3,
      password: null,
      datapath: "auto",
      skip: ["edge-1", "edge-2", "edge-3"],
    });
    // Block VXLAN (port+1) from edge-1 to edge-3 before any agent starts.
    await fleet.lab.blockUdp("edge-1", "edge-3", 6784);
    for (const h of fleet.lab.hosts) await fleet.startAgent(h);
    const statuses = await fleet.settled(undefined, 40_000);
    const dp = (a: string, b: string) => statuses.get(a)!.peers.find((p) => p.name === b)!;
    strictEqual(dp("edge-1", "edge-3").datapath, "sleeve");
    strictEqual(dp("edge-3", "edge-1").datapath, "sleeve");
    match(dp("edge-1", "edge-3").reason, /heartbeat through VXLAN/);
    strictEqual(dp("edge-1", "edge-2").datapath, "fastdp");
    strictEqual(dp("edge-2", "edge-3").datapath, "fastdp");
    // And the fallen-back pair still carries traffic, over the sleeve.
    const dst = fleet.overlayAddress(statuses.get("edge-3")!, "net1");
    const ping = await fleet.lab.exec(fleet.host("edge-1"), [
      "ping",
      "-c",
      "3",
      "-i",
      "0.2",
      "-W",
      "2",
      dst,
    ]);
    strictEqual(ping.code, 0, ping.stdout);
  },
});

Deno.test({
  ...LAB,
  name:
    "fastdp e2e: with a password this kernel (no ESP) falls back to the encrypted sleeve; fastdp is an error",
  async fn() {
    await using fleet = await Fleet.start({
      hosts: 2,
      password: "encrypted fleet passphrase 2291 long enough",
      datapath: "auto",
    });
    const statuses = await fleet.settled("sleeve");
    const p = statuses.get("edge-1")!.peers[0];
    match(p.reason, /ESP/);
    strictEqual(p.encrypted, true);
    const log = await fleet.agents.get("edge-1")!.readLog();
    match(log, /fast datapath unavailable on this box/);
    const dst = fleet.overlayAddress(statuses.get("edge-2")!, "net1");
    const ping = await fleet.lab.exec(fleet.host("edge-1"), [
      "ping",
      "-c",
      "3",
      "-i",
      "0.2",
      "-W",
      "2",
      dst,
    ]);
    strictEqual(ping.code, 0);

    // datapath: fastdp with a password on this kernel: a clear error at start-up.
    const h = fleet.host("edge-2");
    await fleet.agents.get("edge-2")!.stop();
    await fleet.writeConfig(h, { ...fleet.opts, datapath: "fastdp" });
    const a = await fleet.startAgent(h);
    const st = await a.status;
    strictEqual(st.code, 1);
    match(await a.readLog(), /datapath: fastdp is configured but this kernel lacks IPsec ESP/);
  },
});

Deno.test({
  ...LAB,
  name:
    "fastdp e2e: an agent killed with SIGKILL and restarted adopts its kernel state and resumes",
  async fn() {
    await using fleet = await Fleet.start({ hosts: 2, password: null, datapath: "auto" });
    const statuses = await fleet.settled("fastdp");
    const [a, b] = fleet.lab.hosts;
    const dst = fleet.overlayAddress(statuses.get(b.name)!, "net1");
    await fleet.agents.get(a.name)!.stop("SIGKILL");
    // The kernel state outlives the agent: fast-datapath traffic keeps flowing meanwhile.
    const during = await fleet.lab.exec(a, ["ping", "-c", "2", "-i", "0.2", "-W", "2", dst]);
    strictEqual(during.code, 0, "traffic stopped with the agent");
    const restarted = await fleet.startAgent(a);
    await restarted.waitForLog(/agent up/, 20_000);
    await fleet.settled("fastdp", 30_000);
    const after = await fleet.lab.exec(a, ["ping", "-c", "3", "-i", "0.2", "-W", "2", dst]);
    strictEqual(after.code, 0);
    const plan = await cli(fleet.lab, a, ["plan", "--json", "--name", a.name]);
    strictEqual(JSON.parse(plan.stdout).changes, 0, plan.stdout);
    // Exactly one VXLAN and one bridge: adopted, not duplicated.
    const links = await json(fleet, a.name, ["ip", "-json", "link", "show"]);
    const ours = links.map((l: { ifname: string }) => l.ifname).filter((n: string) =>
      n.startsWith("wv")
    ).sort();
    strictEqual(ours.join(","), "wvb-net1,wvt-net1,wvx-net1");
  },
});
