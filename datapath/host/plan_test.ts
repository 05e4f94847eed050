/**
 * The host planner: golden plans, minimal changes, ownership, and the real kernel agreeing
 * (apply in a throwaway namespace, observe, plan again: nothing left to do).
 */

import { deepStrictEqual, strictEqual, throws } from "node:assert";
import { deriveEspKeys } from "../fastdp/esp_keys.ts";
import { type DesiredHost, EMPTY_OBSERVED as empty, type ObservedHost } from "./desired.ts";
import { planHost, renderPlan, reqidFor, teardownPlan } from "./plan.ts";
import { observeHost } from "./observe.ts";
import { applyChanges } from "./apply.ts";

const GOLDEN = new URL("./testdata/encrypted_plan.golden", import.meta.url);

function secrets(seed: number, localIsDialer: boolean) {
  return {
    sessionKey: new Uint8Array(32).fill(seed),
    dialerNonce: new Uint8Array(32).fill(seed + 1),
    listenerNonce: new Uint8Array(32).fill(seed + 2),
    localIsDialer,
  };
}

/** edge-1's view of a fleet of four: two networks, three fast-datapath peers, encrypted. */
export function encryptedDesired(seed = 10): DesiredHost {
  const peers = [["edge-2", "192.0.2.11"], ["edge-3", "192.0.2.12"], ["edge-4", "192.0.2.13"]];
  return {
    underlay: { address: "192.0.2.10", family: 4 },
    vxlanPort: 6784,
    networks: [
      {
        name: "sensors",
        vni: 101,
        mtu: 1416,
        address: "10.32.1.1",
        prefixLength: 24,
        sleeve: true,
        fastdp: true,
        fdb: peers.map(([peer, underlay]) => ({
          peer,
          underlay,
          macs: peer === "edge-2" ? ["02:00:00:00:00:02"] : [],
        })),
      },
      {
        name: "control",
        vni: 102,
        mtu: 1416,
        address: "10.32.2.1",
        prefixLength: 24,
        sleeve: true,
        fastdp: true,
        fdb: peers.slice(0, 1).map(([peer, underlay]) => ({ peer, underlay, macs: [] })),
      },
    ],
    esp: peers.map(([peer, remote], i) => ({
      peer,
      local: "192.0.2.10",
      remote,
      ...deriveEspKeys(secrets(seed + i * 3, i % 2 === 0)),
    })),
  };
}

Deno.test("golden: full encrypted plan from an empty host (keys shown)", async () => {
  const text = renderPlan(planHost(encryptedDesired(), empty), { showKeys: true }) + "\n";
  if (Deno.env.get("WEAVE_UPDATE_GOLDEN")) await Deno.writeTextFile(GOLDEN, text);
  strictEqual(text, await Deno.readTextFile(GOLDEN));
});

Deno.test("plan order: SAs, policies and the guard come before any VXLAN is up", () => {
  const changes = planHost(encryptedDesired(), empty);
  const firstUp = changes.findIndex((c) =>
    c.args.join(" ").startsWith("link set dev wvx-") && c.args.at(-1) === "up"
  );
  const lastEsp = changes.findLastIndex((c) =>
    c.kind === "xfrm-state" || c.kind === "xfrm-policy" || c.kind === "nft"
  );
  strictEqual(firstUp > lastEsp, true);
  // Per direction: one SA and one policy each way for each of the three peers.
  strictEqual(changes.filter((c) => c.kind === "xfrm-state").length, 6);
  strictEqual(changes.filter((c) => c.kind === "xfrm-policy").length, 6);
  // Redacted by default.
  const redacted = renderPlan(changes);
  strictEqual(/0x[0-9a-f]{72}/.test(redacted), false);
  strictEqual(redacted.includes("0x<redacted>"), true);
});

/** Observed state equal to what the plan creates (as observe() would report it). */
function observedAfter(d: DesiredHost): ObservedHost {
  const links: ObservedHost["links"] = [];
  const fdb: ObservedHost["fdb"] = {};
  for (const n of d.networks) {
    links.push({
      name: `wvb-${n.name}`,
      kind: "bridge",
      mtu: n.mtu,
      up: true,
      master: null,
      address: null,
      isolated: null,
      vxlan: null,
      addresses: [`${n.address}/${n.prefixLength}`, "fe80::1/64"],
    });
    links.push({
      name: `wvt-${n.name}`,
      kind: "tun",
      mtu: n.mtu,
      up: true,
      master: `wvb-${n.name}`,
      address: null,
      isolated: true,
      vxlan: null,
      addresses: [],
    });
    links.push({
      name: `wvx-${n.name}`,
      kind: "vxlan",
      mtu: n.mtu,
      up: true,
      master: `wvb-${n.name}`,
      address: null,
      isolated: true,
      vxlan: { id: n.vni, port: d.vxlanPort, local: d.underlay.address, learning: false },
      addresses: [],
    });
    fdb[`wvx-${n.name}`] = n.fdb.flatMap((
      f,
    ) => [`00:00:00:00:00:00 ${f.underlay}`, ...f.macs.map((m) => `${m} ${f.underlay}`)]);
  }
  const sas = d.esp.flatMap((e) => [
    { src: e.local, dst: e.remote, spi: e.out.spi, reqid: reqidFor(e.peer, "out"), keyHex: null },
    { src: e.remote, dst: e.local, spi: e.in.spi, reqid: reqidFor(e.peer, "in"), keyHex: null },
  ]);
  const policies = d.esp.flatMap((e) => [
    {
      src: e.local,
      dst: e.remote,
      dir: "out" as const,
      dport: d.vxlanPort,
      reqid: reqidFor(e.peer, "out"),
    },
    {
      src: e.remote,
      dst: e.local,
      dir: "in" as const,
      dport: d.vxlanPort,
      reqid: reqidFor(e.peer, "in"),
    },
  ]);
  const guard = planHost(d, empty).find((c) => c.kind === "nft")!.args[0];
  const body = guard.slice(guard.indexOf("{\n") + 2, guard.lastIndexOf("\n}"));
  return { links, fdb, sas, policies, nftTable: body, isolationTable: true };
}

Deno.test("desired == observed: empty plan", () => {
  deepStrictEqual(planHost(encryptedDesired(), observedAfter(encryptedDesired())), []);
});

Deno.test("a peer removed: only its entries, policies and SAs go, and nothing else", () => {
  const before = encryptedDesired();
  const after = encryptedDesired();
  after.networks[0].fdb = after.networks[0].fdb.filter((f) => f.peer !== "edge-4");
  after.esp = after.esp.filter((e) => e.peer !== "edge-4");
  const changes = planHost(after, observedAfter(before));
  const lines = changes.map((c) => c.args.join(" "));
  strictEqual(
    lines.filter((l) => l.startsWith("fdb del 00:00:00:00:00:00 dev wvx-sensors dst 192.0.2.13"))
      .length,
    1,
  );
  strictEqual(lines.filter((l) => l.startsWith("xfrm policy delete")).length, 2);
  strictEqual(lines.filter((l) => l.startsWith("xfrm state delete")).length, 2);
  strictEqual(changes.filter((c) => c.kind === "nft").length, 1, "guard loses edge-4");
  strictEqual(changes.length, 6, lines.join("\n"));
});

Deno.test("MTU change: one line per link", () => {
  const d = encryptedDesired();
  const obs = observedAfter(d);
  d.networks[1].mtu = 1300;
  const lines = planHost(d, obs).map((c) => c.args.join(" "));
  deepStrictEqual(lines.sort(), [
    "link set dev wvb-control mtu 1300",
    "link set dev wvt-control mtu 1300",
    "link set dev wvx-control mtu 1300",
  ]);
});

Deno.test("rekey (new session): new SAs are added before the old ones go; policies stay", () => {
  const old = encryptedDesired(10);
  const next = encryptedDesired(10);
  next.esp[0] = { ...next.esp[0], ...deriveEspKeys(secrets(99, true)) };
  const changes = planHost(next, observedAfter(old));
  const kinds = changes.map((c) => `${c.kind}:${c.args[2]}`);
  deepStrictEqual(kinds, [
    "xfrm-state:add",
    "xfrm-state:add",
    "xfrm-state:delete",
    "xfrm-state:delete",
  ]);
});

Deno.test("foreign objects are never touched; SPI clashes are refused", () => {
  const obs: ObservedHost = {
    ...empty,
    links: [{
      name: "eth0",
      kind: "veth",
      mtu: 1500,
      up: true,
      master: null,
      address: null,
      isolated: null,
      vxlan: null,
      addresses: [],
    }],
    sas: [{ src: "192.0.2.10", dst: "192.0.2.99", spi: 0x1234, reqid: 7, keyHex: null }],
    policies: [{ src: "192.0.2.10", dst: "192.0.2.99", dir: "out", dport: 500, reqid: 7 }],
  };
  const t = teardownPlan(obs);
  deepStrictEqual(t, []);
  const d = encryptedDesired();
  d.esp[1].in.spi = d.esp[0].in.spi;
  d.esp[1].remote = d.esp[0].remote; // same destination (us) and SPI twice
  throws(
    () =>
      planHost({
        ...d,
        esp: [d.esp[0], {
          ...d.esp[1],
          in: { ...d.esp[1].in, spi: d.esp[0].in.spi },
          remote: d.esp[0].remote,
        }],
      }, empty),
    /used twice/,
  );
});

Deno.test({
  name:
    "real kernel: apply in a namespace, observe, plan again is empty; teardown leaves foreign links",
  ignore: Deno.uid() !== 0,
  async fn() {
    const ns = `wvpl${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
    const ip = (...a: string[]) =>
      new Deno.Command("ip", { args: a, stdout: "null", stderr: "null" }).output();
    await ip("netns", "add", ns);
    try {
      await ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
      await ip("-n", ns, "address", "add", "192.0.2.10/24", "dev", "eth0");
      await ip("-n", ns, "link", "set", "eth0", "up");
      const d = encryptedDesired();
      d.esp = []; // this kernel has no ESP: plain VXLAN here, ESP runs under kvm-esp
      const first = planHost(d, await observeHost({ netns: ns }));
      const r = await applyChanges(first, { netns: ns });
      strictEqual(
        r.spawns <= 4,
        true,
        `batched: ${r.spawns} processes for ${first.length} changes`,
      );
      deepStrictEqual(planHost(d, await observeHost({ netns: ns })).map((c) => c.description), []);
      const down = teardownPlan(await observeHost({ netns: ns }));
      await applyChanges(down, { netns: ns });
      const left = await observeHost({ netns: ns });
      deepStrictEqual(left.links, []);
      const all = await new Deno.Command("ip", {
        args: ["-n", ns, "-json", "link", "show"],
        stdout: "piped",
      }).output();
      const names = JSON.parse(new TextDecoder().decode(all.stdout)).map((l: { ifname: string }) =>
        l.ifname
      );
      strictEqual(names.includes("eth0"), true);
    } finally {
      await ip("netns", "del", ns);
    }
  },
});

Deno.test({
  name: "the ESP guard the planner writes loads into nftables as one transaction",
  ignore: Deno.uid() !== 0,
  async fn() {
    const ns = `wvnft${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
    await new Deno.Command("ip", { args: ["netns", "add", ns] }).output();
    try {
      const guard = planHost(encryptedDesired(), empty).filter((c) => c.kind === "nft");
      strictEqual(guard.length, 1);
      await applyChanges(guard, { netns: ns });
      const observed = await observeHost({ netns: ns });
      strictEqual(observed.nftTable !== null, true);
      // Observed back, it is what the planner wants: no change on the next pass.
      strictEqual(planHost(encryptedDesired(), observed).filter((c) => c.kind === "nft").length, 0);
      await applyChanges(teardownPlan(observed), { netns: ns });
      strictEqual((await observeHost({ netns: ns })).nftTable, null);
    } finally {
      await new Deno.Command("ip", { args: ["netns", "del", ns] }).output();
    }
  },
});
