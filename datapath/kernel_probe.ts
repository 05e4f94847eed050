/**
 * What this kernel can do, probed for real in a throwaway network namespace: bridge, VXLAN,
 * TAP with the sleeve's flags, nftables, xfrm, and ESP with rfc4106(gcm(aes)). Nothing is
 * guessed from file names; each item carries the kernel's own error and a fix.
 *
 * @module
 */

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

async function sh(args: string[], stdin?: string): Promise<{ ok: boolean; err: string }> {
  try {
    const p = new Deno.Command(args[0], {
      args: args.slice(1),
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const o = await p.output();
    return { ok: o.success, err: new TextDecoder().decode(o.stderr).trim().split("\n")[0] };
  } catch (e) {
    return { ok: false, err: e instanceof Error ? e.message : String(e) };
  }
}

const KEY = "0x" + "11".repeat(36);

/** Probes in a namespace of its own, always removed. */
export async function probeKernel(): Promise<KernelCaps> {
  const ns = `wvprobe${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
  const made = await sh(["ip", "netns", "add", ns]);
  const fail = (detail: string, fix?: string): ProbeItem => ({ ok: false, detail, fix });
  if (!made.ok) {
    const f = fail(
      `cannot create a network namespace: ${made.err}`,
      "run as root (CAP_NET_ADMIN and CAP_SYS_ADMIN)",
    );
    return { bridge: f, vxlan: f, tun: f, nftables: f, xfrm: f, espGcm: f };
  }
  const ip = (...a: string[]) => sh(["ip", "-n", ns, ...a]);
  try {
    await ip("link", "set", "lo", "up");
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
        "table inet probe { chain c { type filter hook input priority 0; meta secpath missing accept; }; }\n",
      ),
      ip(
        "xfrm",
        "policy",
        "add",
        "src",
        "192.0.2.1/32",
        "dst",
        "192.0.2.2/32",
        "proto",
        "udp",
        "dport",
        "4789",
        "dir",
        "out",
        "tmpl",
        "src",
        "192.0.2.1",
        "dst",
        "192.0.2.2",
        "proto",
        "esp",
        "reqid",
        "1",
        "mode",
        "transport",
      ),
      ip(
        "xfrm",
        "state",
        "add",
        "src",
        "192.0.2.1",
        "dst",
        "192.0.2.2",
        "proto",
        "esp",
        "spi",
        "0x1000",
        "reqid",
        "1",
        "mode",
        "transport",
        "replay-window",
        "256",
        "flag",
        "esn",
        "aead",
        "rfc4106(gcm(aes))",
        KEY,
        "128",
      ),
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
  } finally {
    await sh(["ip", "netns", "del", ns]);
  }
}
