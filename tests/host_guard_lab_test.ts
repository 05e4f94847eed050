/**
 * The underlay attacker against a box's overlay, with the host planner's real rulesets in real
 * namespaces: a box not in the config, on the same underlay, (1) routes a network's subnet via
 * the box's underlay address and sends UDP to the box's overlay address, with its own source and
 * with a forged overlay source; (2) sends raw VXLAN frames with the network's VNI to the VXLAN
 * port, from its own address and, with a password, from a forged fast-datapath peer's address.
 * Nothing may be delivered. Controls in the same run show that the probes do deliver when they
 * should (the box to itself, VXLAN from the real peer without a password), so a silent probe
 * cannot pass the test.
 */

import { ok, strictEqual } from "node:assert";
import { LAB } from "./lab/gate.ts";
import { Lab, type LabHost } from "./lab/lab.ts";
import { planHost, renderPlan } from "../datapath/host/plan.ts";
import { observeHost } from "../datapath/host/observe.ts";
import { applyChanges } from "../datapath/host/apply.ts";
import type { DesiredHost } from "../datapath/host/desired.ts";

const COUNT = new URL("./testdata/udp_count.py", import.meta.url).pathname;
const INJECT = new URL("./testdata/vxlan_inject.py", import.meta.url).pathname;
const SERVICE_PORT = 9000;
const VXLAN_PORT = 6784;
const VNI = 101;

function boxDesired(box: LabHost, peer: LabHost, encrypted: boolean): DesiredHost {
  return {
    underlay: { address: box.address, family: 4 },
    vxlanPort: VXLAN_PORT,
    networks: [{
      name: "sensors",
      vni: VNI,
      mtu: 1400,
      address: "10.32.1.1",
      prefixLength: 24,
      sleeve: false,
      fastdp: true,
      fdb: [{ peer: peer.name, underlay: peer.address, macs: [] }],
    }],
    esp: [],
    encrypted,
  };
}

async function reconcile(box: LabHost, d: DesiredHost): Promise<void> {
  const changes = planHost(d, await observeHost({ netns: box.ns }));
  await applyChanges(changes, { netns: box.ns });
  const again = planHost(d, await observeHost({ netns: box.ns }));
  strictEqual(again.length, 0, renderPlan(again));
}

/** Datagrams that reach a socket bound to `addr:port` on `host` while `send` runs. */
async function delivered(
  lab: Lab,
  host: LabHost,
  addr: string,
  send: () => Promise<unknown>,
): Promise<number> {
  const log = `count-${crypto.randomUUID().slice(0, 8)}.log`;
  const p = await lab.spawn(host, ["python3", COUNT, addr, String(SERVICE_PORT), "2"], {
    logFile: log,
  });
  await p.waitForLog(/ready/, 10_000);
  await send();
  const m = await p.waitForLog(/count (\d+)/, 10_000);
  await p.status;
  return Number(m[1]);
}

async function sendUdp(lab: Lab, from: LabHost, to: string, src?: string): Promise<void> {
  const py = `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n` +
    (src ? `s.bind(("${src}",0))\n` : "") +
    `for i in range(10): s.sendto(b"hello %d" % i, ("${to}", ${SERVICE_PORT}))\n`;
  await lab.exec(from, ["python3", "-c", py], { check: true });
}

async function bridgeMac(lab: Lab, box: LabHost): Promise<string> {
  const r = await lab.exec(box, ["ip", "-json", "link", "show", "dev", "wvb-sensors"], {
    check: true,
  });
  return (JSON.parse(r.stdout) as { address: string }[])[0].address;
}

async function inject(lab: Lab, from: LabHost, src: string, box: LabHost, mac: string) {
  await lab.exec(from, [
    ...["python3", INJECT, src, box.address, String(VXLAN_PORT), String(VNI), mac],
    ...["10.32.1.77", "10.32.1.1", String(SERVICE_PORT), "10"],
  ], { check: true });
}

Deno.test({
  name: "underlay attacker: a route to the overlay subnet via the box delivers nothing",
  ...LAB,
  fn: () =>
    Lab.run({ hosts: ["box", "peer", "attacker"] }, async (lab) => {
      const [box, peer, attacker] = lab.hosts;
      await reconcile(box, boxDesired(box, peer, false));
      await lab.exec(attacker, ["ip", "route", "add", "10.32.1.0/24", "via", box.address], {
        check: true,
      });
      await lab.exec(attacker, ["ip", "address", "add", "10.32.1.50/32", "dev", "lo"], {
        check: true,
      });
      const own = await delivered(lab, box, "10.32.1.1", () => sendUdp(lab, attacker, "10.32.1.1"));
      const forged = await delivered(
        lab,
        box,
        "10.32.1.1",
        () => sendUdp(lab, attacker, "10.32.1.1", "10.32.1.50"),
      );
      const self = await delivered(lab, box, "10.32.1.1", () => sendUdp(lab, box, "10.32.1.1"));
      strictEqual(self, 10, "control: the box reaches its own overlay address");
      strictEqual(own, 0, `from the attacker's own address: ${own} of 10 delivered`);
      strictEqual(forged, 0, `from a forged overlay source: ${forged} of 10 delivered`);
    }),
});

Deno.test({
  name: "underlay attacker: raw VXLAN frames with the network's VNI are not injected",
  ...LAB,
  fn: () =>
    Lab.run({ hosts: ["box", "peer", "attacker"] }, async (lab) => {
      const [box, peer, attacker] = lab.hosts;
      await reconcile(box, boxDesired(box, peer, false));
      const mac = await bridgeMac(lab, box);
      const fromPeer = await delivered(
        lab,
        box,
        "10.32.1.1",
        () => inject(lab, peer, peer.address, box, mac),
      );
      strictEqual(fromPeer, 10, "control: VXLAN from the fast-datapath peer (no password) arrives");
      const fromAttacker = await delivered(
        lab,
        box,
        "10.32.1.1",
        () => inject(lab, attacker, attacker.address, box, mac),
      );
      strictEqual(fromAttacker, 0, `from the attacker: ${fromAttacker} of 10 injected`);

      // With a password, VXLAN counts only through ESP: a forged peer source is not enough.
      await reconcile(box, boxDesired(box, peer, true));
      const forged = await delivered(
        lab,
        box,
        "10.32.1.1",
        () => inject(lab, attacker, peer.address, box, mac),
      );
      strictEqual(forged, 0, `forged peer source, password set: ${forged} of 10 injected`);
      const drops = await lab.exec(box, ["nft", "list", "chain", "inet", "weave_agent", "input"]);
      const missing = /meta ipsec missing counter packets (\d+)/.exec(drops.stdout)?.[1];
      ok(Number(missing) >= 10, `dropped as not through ESP: ${missing}\n${drops.stdout}`);
    }),
});
