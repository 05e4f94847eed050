/**
 * Fixtures shared by the planner's unit tests and the host lab tests: edge-1's desired state in
 * a fleet of four, and the state the kernel reports once a plan for it is applied.
 *
 * @module
 */

import { deriveEspKeys } from "../../fastdp/esp_keys.ts";
import { type DesiredHost, EMPTY_OBSERVED as empty, type ObservedHost } from "../desired.ts";
import { planHost } from "../plan.ts";
import { reqidFor } from "../xfrm_args.ts";
import { expectedTable } from "../nft_table.ts";
import { desiredSysctls } from "../plan_sysctl.ts";

/** Session secrets from a seed (distinct seeds: distinct keys and SPIs). */
export function secrets(seed: number, localIsDialer: boolean) {
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

/** Observed state equal to what the plan creates (as observe() would report it). */
export function observedAfter(d: DesiredHost): ObservedHost {
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
  const nft: ObservedHost["nft"] = {};
  for (const c of planHost(d, empty)) {
    if (c.kind !== "nft") continue;
    const name = /^table inet (\S+)/.exec(c.args[0])![1];
    nft[name] = expectedTable(c.args[0]);
  }
  return { links, fdb, sas, policies, nft, sysctls: Object.fromEntries(desiredSysctls(d)) };
}
