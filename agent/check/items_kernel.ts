/**
 * Check items of the `kernel` and `crypto` groups: one per probed kernel capability
 * (`datapath/kernel_probe.ts`), judged against what the config needs, and the sleeve's AEAD
 * backend.
 *
 * @module
 */

import type { Config } from "../../config/types.ts";
import type { KernelCaps, ProbeItem } from "../../datapath/kernel_probe.ts";
import type { AeadBackend, AeadName } from "../../datapath/sleeve/mod.ts";
import { type CheckItem, item } from "./item.ts";

/** `espGcm` → `esp-gcm`: the item id of a probe key. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, "-");
}

/** The probe's capabilities in the probe's order, keyed by item id (`esp-gcm`). */
export function probeEntries(probe: KernelCaps): [string, ProbeItem][] {
  return (Object.keys(probe) as (keyof KernelCaps)[]).map((k) => [kebab(k), probe[k]]);
}

/**
 * One item per probed capability. Bridge, TUN and nftables are needed on every box; VXLAN only
 * for the fast datapath; xfrm and ESP-GCM only for the encrypted fast datapath. A missing
 * capability that the config can do without is a warning (its pairs use the sleeve), or a
 * failure under `datapath: fastdp`; one the config never uses is ok.
 */
export function kernelItems(
  probe: KernelCaps,
  ctx: { datapath: Config["datapath"] | null; encrypted: boolean | null },
): CheckItem[] {
  const out: CheckItem[] = [];
  for (const [key, e] of probeEntries(probe)) {
    const id = `kernel.${key}`;
    const fixOf = (fallback: string) => e.fix ?? fallback;
    if (e.ok) {
      out.push(item(id, "kernel", "ok", `${key}: ${e.detail}`));
      continue;
    }
    const fastdpOnly = key === "vxlan";
    const encryptedFastdpOnly = key === "xfrm" || key === "esp-gcm";
    if (!fastdpOnly && !encryptedFastdpOnly) {
      out.push(
        item(id, "kernel", "failure", `${key} missing: ${e.detail}`, fixOf(`enable ${key}`)),
      );
      continue;
    }
    const sleeveOnly = ctx.datapath === "sleeve";
    const unencrypted = ctx.encrypted === false;
    if (sleeveOnly || (encryptedFastdpOnly && unencrypted)) {
      const why = sleeveOnly ? "the config sets datapath: sleeve" : "no password is set";
      out.push(item(id, "kernel", "ok", `${key} missing (${e.detail}); not needed: ${why}`));
      continue;
    }
    const consequence = encryptedFastdpOnly
      ? "the sleeve will be used for encrypted pairs (userspace, slower)"
      : "the sleeve will be used for every pair (userspace, slower)";
    if (ctx.datapath === "fastdp") {
      out.push(item(
        id,
        "kernel",
        "failure",
        `${key} missing: ${e.detail}; the config demands datapath: fastdp`,
        `${fixOf(`enable ${key}`)}; or set datapath: auto`,
      ));
    } else {
      out.push(item(
        id,
        "kernel",
        "warning",
        `${key} missing: ${e.detail}; ${consequence}`,
        fixOf(`enable ${key} in the kernel`),
      ));
    }
  }
  return out;
}

/** The sleeve's crypto backend, as `sleeveCapabilities()` reports it. */
export interface SleeveCryptoCaps {
  backend: AeadBackend;
  aead: AeadName;
  aesni?: boolean;
  detail?: string;
}

/** A system library (libsodium or libcrypto) is fast; the @noble fallback is slow, still correct. */
export function sleeveCryptoItem(caps: SleeveCryptoCaps | string): CheckItem {
  if (typeof caps === "string") {
    return item("crypto.sleeve", "crypto", "warning", `cannot tell: ${caps}`);
  }
  if (caps.backend !== "noble") {
    const aes = caps.aesni === undefined ? "" : caps.aesni ? ", AES-NI" : ", no AES-NI";
    return item("crypto.sleeve", "crypto", "ok", `${caps.backend} ${caps.aead}${aes}`);
  }
  return item(
    "crypto.sleeve",
    "crypto",
    "warning",
    `slower fallback (@noble): neither libsodium nor libcrypto loads${
      caps.detail ? ` (${caps.detail})` : ""
    }`,
    "apt-get install libsodium23 (or libssl3, OpenSSL 3's libcrypto.so.3)",
  );
}
