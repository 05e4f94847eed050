/**
 * What this kernel can do, probed for real in a throwaway network namespace: bridge, VXLAN,
 * TAP with the sleeve's flags, nftables, xfrm, and ESP with rfc4106(gcm(aes)). Nothing is
 * guessed from file names; each item carries the kernel's own error and a fix.
 *
 * @module
 */

import { CommandError, runCommand, withThrowawayNetns } from "./command.ts";
import { policyArgs, saArgs } from "./host/xfrm_args.ts";

/** One probed capability. */
export interface ProbeItem {
  ok: boolean;
  detail: string;
  fix?: string;
}

/** Result of `probeKernel`. */
export interface KernelCaps {
  bridge: ProbeItem;
  vxlan: ProbeItem;
  tun: ProbeItem;
  nftables: ProbeItem;
  xfrm: ProbeItem;
  espGcm: ProbeItem;
}

/** What a kernel can do for the fast datapath: the two probe items the datapath choice needs. */
export interface KernelDatapathCaps {
  vxlan: boolean;
  vxlanDetail: string;
  esp: boolean;
  espDetail: string;
}

/** The one mapping from a probe result to fast-datapath capabilities (agent, plan, check). */
export function datapathCaps(caps: Pick<KernelCaps, "vxlan" | "espGcm">): KernelDatapathCaps {
  return {
    vxlan: caps.vxlan.ok,
    vxlanDetail: caps.vxlan.detail,
    esp: caps.espGcm.ok,
    espDetail: caps.espGcm.detail,
  };
}

async function sh(args: string[], stdin?: string): Promise<{ ok: boolean; err: string }> {
  const r = await runCommand(args[0], args.slice(1), { stdin });
  return { ok: r.ok, err: r.stderr.trim().split("\n")[0] };
}

/** Probes in a throwaway namespace of its own, always removed. */
export async function probeKernel(): Promise<KernelCaps> {
  try {
    return await withThrowawayNetns("probe", probeIn);
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    const f = fail(
      `cannot create a network namespace: ${e.message}`,
      "run as root (CAP_NET_ADMIN and CAP_SYS_ADMIN)",
    );
    return { bridge: f, vxlan: f, tun: f, nftables: f, xfrm: f, espGcm: f };
  }
}

function fail(detail: string, fix?: string): ProbeItem {
  return { ok: false, detail, fix };
}

async function probeIn(ns: string): Promise<KernelCaps> {
  const ip = (...a: string[]) => sh(["ip", "-n", ns, ...a]);
  await ip("link", "add", "u0", "type", "veth", "peer", "name", "u1");
  await ip("address", "add", "192.0.2.1/24", "dev", "u0");
  await ip("link", "set", "u0", "up");
  const [bridge, vxlan, tun, nft, xfrm, esp] = await Promise.all([
    ip("link", "add", "pb0", "type", "bridge"),
    ip(
      "link",
      "add",
      "pv0",
      "type",
      "vxlan",
      "id",
      "42",
      "dstport",
      "4789",
      "local",
      "192.0.2.1",
      "nolearning",
    ),
    ip("tuntap", "add", "dev", "pt0", "mode", "tap", "multi_queue", "vnet_hdr"),
    sh(
      ["ip", "netns", "exec", ns, "nft", "-f", "-"],
      "table inet probe { chain c { type filter hook input priority 0; meta ipsec missing accept; }; }\n",
    ),
    // Exactly the commands reconcile runs, so "ok" here means our plan works on this kernel.
    ip(...policyArgs("add", "192.0.2.1", "192.0.2.2", "out", 4789, 1)),
    ip(...saArgs("192.0.2.1", "192.0.2.2", 0x1000, 1, new Uint8Array(36).fill(0x11))),
  ]);
  return {
    bridge: bridge.ok
      ? { ok: true, detail: "bridge devices work" }
      : fail(bridge.err, "load the bridge module (modprobe bridge)"),
    vxlan: vxlan.ok
      ? { ok: true, detail: "VXLAN devices work" }
      : fail(vxlan.err, "load the vxlan module (modprobe vxlan); the kernel needs CONFIG_VXLAN"),
    tun: tun.ok
      ? { ok: true, detail: "TAP with multi_queue and vnet_hdr works" }
      : fail(tun.err, "load the tun module (modprobe tun) and make sure /dev/net/tun exists"),
    nftables: nft.ok ? { ok: true, detail: "nftables with ipsec matching works" } : fail(
      nft.err,
      "install nftables (apt-get install nftables); the kernel needs CONFIG_NF_TABLES",
    ),
    xfrm: xfrm.ok
      ? { ok: true, detail: "xfrm policies work" }
      : fail(xfrm.err, "the kernel needs CONFIG_XFRM_USER"),
    espGcm: esp.ok ? { ok: true, detail: "ESP with rfc4106(gcm(aes)) works" } : fail(
      esp.err.replace(/^Error: /, "").replace(/\.$/, ""),
      "modprobe esp4 esp6 gcm aesni_intel (or aes_generic); on minimal kernels install the distribution's full kernel (e.g. linux-image-amd64 / linux-modules-extra): CONFIG_INET_ESP, CONFIG_CRYPTO_GCM, CONFIG_CRYPTO_SEQIV",
    ),
  };
}
