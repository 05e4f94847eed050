import { deepStrictEqual, strictEqual } from "node:assert";
import { HolePunch, parseEndpoint, type PunchEffects } from "./hole_punch.ts";

/** Effects that record what the punching did; `straight` is what the sleeve counted. */
function effects(candidate: string | null) {
  const probes: string[] = [];
  const changes: string[] = [];
  const state = { straight: 0 };
  const fx: PunchEffects = {
    candidate: () => candidate === null ? null : parseEndpoint(candidate),
    probe: (peer, at) => probes.push(`${peer}@${at.address}:${at.port}`),
    straightIn: () => state.straight,
    changed: (peer) => changes.push(peer),
    log: () => {},
  };
  return { fx, probes, changes, state };
}

Deno.test("hole punch: probes every second, punched on a straight datagram, back when quiet", () => {
  const { fx, probes, changes, state } = effects("192.0.2.7:6783");
  const hp = new HolePunch(fx, { probeMs: 1000, deadMs: 4000, retryMs: 15_000 });
  hp.setRelayed("b", "c", 0);
  for (let t = 0; t <= 2500; t += 500) hp.tick(t);
  deepStrictEqual(probes, ["b@192.0.2.7:6783", "b@192.0.2.7:6783", "b@192.0.2.7:6783"]);
  strictEqual(hp.punched("b"), false);
  hp.straightFrom("b", 2600);
  strictEqual(hp.punched("b"), true);
  deepStrictEqual(changes, ["b"]);
  // Keepalives come straight: still punched; then nothing for longer than deadMs: relayed.
  for (let t = 3000; t <= 6000; t += 500) {
    state.straight++;
    hp.tick(t);
  }
  strictEqual(hp.punched("b"), true, "punched while datagrams come straight");
  for (let t = 6500; t <= 11_000; t += 500) hp.tick(t);
  strictEqual(hp.punched("b"), false, "back to the relay after deadMs of quiet");
  deepStrictEqual(changes, ["b", "b"]);
  // Paused: no probes until retryMs has passed, then probing again.
  const before = probes.length;
  hp.tick(20_000);
  strictEqual(probes.length, before, "probes while paused");
  hp.tick(26_500);
  hp.tick(26_500);
  strictEqual(probes.length, before + 1, "probing again after the pause");
});

Deno.test("hole punch: nothing without a candidate; a direct session ends it all", () => {
  const { fx, probes, changes } = effects(null);
  const hp = new HolePunch(fx);
  hp.setRelayed("b", "c", 0);
  for (let t = 0; t <= 5000; t += 500) hp.tick(t);
  deepStrictEqual(probes, []);
  hp.straightFrom("b", 5000);
  strictEqual(hp.punched("b"), true);
  hp.setRelayed("b", null, 6000);
  strictEqual(hp.punched("b"), false);
  deepStrictEqual(changes, ["b", "b"], "pushed when punched, and again when it ended");
  // A straight datagram from a peer that is not relayed changes nothing.
  hp.straightFrom("d", 7000);
  strictEqual(hp.punched("d"), false);
});

Deno.test("hole punch: endpoints as formatHostPort writes them, nothing else", () => {
  deepStrictEqual(parseEndpoint("192.0.2.7:6783"), { address: "192.0.2.7", port: 6783 });
  deepStrictEqual(parseEndpoint("[2001:db8::1]:7000"), { address: "2001:db8::1", port: 7000 });
  for (const bad of ["192.0.2.7", "192.0.2.7:0", "192.0.2.7:70000", "host:1", "[::1]"]) {
    strictEqual(parseEndpoint(bad), null, bad);
  }
});
