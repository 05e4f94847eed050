/**
 * Topology gossip with real agents (#16): three boxes on the underlay learn the same graph over
 * their sealed control sessions; `status --dot` renders with the real `dot`; when an nft rule
 * blocks one pair's underlay both ways, both ends say the other is reachable `via` the third box
 * and every graph shows the pair relayed (its session carried by the third box: relay_lab_test.ts
 * proves the traffic); lifting the block brings the pair back to `direct`.
 */

import { deepStrictEqual, strictEqual } from "node:assert";
import type { AgentStatus } from "../agent/agent.ts";
import { cli, Fleet } from "./lab/fleet.ts";
import { below, includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";

const PASSWORD = "topology test passphrase, long enough 8841";

const routeOf = (s: AgentStatus, peer: string) => s.peers.find((p) => p.name === peer)?.route;
const routeText = (s: AgentStatus, peer: string) => {
  const r = routeOf(s, peer);
  return !r ? "none" : r.kind === "via" ? `via ${r.via}` : r.kind;
};
const edgeText = (s: AgentStatus) =>
  (s.topology?.edges ?? []).map((e) => `${e.a}-${e.b}:${e.state}`).join(" ");

Deno.test({
  ...LAB,
  name:
    "topology e2e: the same graph everywhere, DOT renders, a blocked pair is routed via the third",
  async fn() {
    await using fleet = await Fleet.start({
      hosts: 3,
      password: PASSWORD,
      datapath: "sleeve",
      extra: ["metrics: 127.0.0.1:9109"],
    });
    const [a, b, c] = fleet.lab.hosts.map((h) => h.name);
    await fleet.settled("sleeve");

    // Every box builds the same graph: three direct links, each reported by both ends.
    const full = `${a}-${b}:direct ${a}-${c}:direct ${b}-${c}:direct`;
    const same = await fleet.waitForStatus(
      (all) => [...all.values()].every((s) => edgeText(s) === full),
      15_000,
    );
    for (const s of same.values()) {
      deepStrictEqual(
        s.peers.map((p) => `${p.name} ${routeText(s, p.name)}`),
        s.peers.map((p) => `${p.name} direct`),
      );
      strictEqual(s.topology!.origins, 3);
      const dropped = Object.values(s.topology!.counters.dropped).reduce((x, y) => x + y, 0);
      strictEqual(dropped, 0, `${s.peer} dropped gossip: ${JSON.stringify(s.topology!.counters)}`);
    }

    // status --dot through the real dot: the SVG names every peer.
    const dot = await cli(fleet.lab, fleet.host(a), ["status", "--dot", "--name", a]);
    strictEqual(dot.code, 0, dot.stderr);
    const svgFile = await fleet.lab.writeFile("fleet.dot", dot.stdout);
    const svg = await fleet.lab.exec(fleet.host(a), ["dot", "-Tsvg", svgFile], { check: true });
    const text = svg.stdout.replaceAll("&#45;", "-");
    for (const n of [a, b, c]) includes(text, `<title>${n}</title>`, "SVG nodes");
    includes(text, `<title>${a}--${b}</title>`, "SVG edges");

    // Block a <-> b on the underlay: both ends route through c, and every graph says the pair
    // is relayed (both ends report their relayed session).
    const t0 = Date.now();
    const fault = await fleet.lab.partition(a, b);
    const cut = await fleet.waitForStatus(
      (all) =>
        routeText(all.get(a)!, b) === `via ${c}` && routeText(all.get(b)!, a) === `via ${c}` &&
        routeText(all.get(a)!, c) === "direct" &&
        [...all.values()].every((s) => edgeText(s).includes(`${a}-${b}:relayed`)),
      30_000,
    );
    const cutMs = Date.now() - t0;
    // A silent session counts as lost after 4.5 s; the relayed one replaces it; the graph follows
    // within a poll.
    below(cutMs, 15_000, "ms until the blocked pair is routed via the third box");
    const human = await cli(fleet.lab, fleet.host(a), ["status", "--name", a]);
    includes(human.stdout, `via ${c}`, "human status");
    const via = routeOf(cut.get(a)!, b);
    deepStrictEqual(via?.kind === "via" ? via.path : via, [a, c, b]);
    const m = await fleet.lab.exec(fleet.host(a), [
      Deno.execPath(),
      "eval",
      'console.log(await (await fetch("http://127.0.0.1:9109/metrics")).text());',
    ]);
    includes(m.stdout.split("\n"), `weave_peer_route_hops{peer="${b}"} 2`, "metrics");

    // Lift the block: the pair comes back to direct everywhere.
    await fault.undo();
    await fleet.waitForStatus(
      (all) =>
        routeText(all.get(a)!, b) === "direct" && routeText(all.get(b)!, a) === "direct" &&
        [...all.values()].every((s) => edgeText(s) === full),
      40_000,
    );
  },
});
