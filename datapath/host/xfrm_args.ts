/**
 * The exact `ip xfrm` argument lists of our ESP SAs and policies, and the reqid range that marks
 * them as ours. The planner and the kernel probe both use them, so a probe that passes means
 * reconcile's commands work on this kernel.
 *
 * @module
 */

/** xfrm reqids the agent owns: 0x57560000 ("WV") and up. */
export const REQID_BASE = 0x57560000;
export const REQID_SPAN = 0x10000;

/** Index of the key in {@link saArgs}'s result (redacted when a plan is printed). */
export const SA_KEY_ARG = 21;

/**
 * Default hard lifetime of our SAs (the spirit of WireGuard's reject-after: 180 s). The kernel
 * deletes an SA at `add time + hard`, so the keys of an agent that died stop working with their
 * time; a live agent that still wants an SA extends it (`xfrm state update`, same key and
 * sequence numbers) long before that, and a rekey replaces it with new SPIs and keys.
 */
export const ESP_SA_HARD_LIFETIME_S = 180;

/** Key bytes as `ip xfrm` prints them (lower-case hex, no prefix). */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Reqids per peer: stable across rekeys (so policies never change when keys do). */
export function reqidFor(peer: string, dir: "out" | "in"): number {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(peer)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return REQID_BASE + ((h % (REQID_SPAN / 2)) * 2) + (dir === "out" ? 0 : 1);
}

/** Reqid is ours. */
export function ownsReqid(reqid: number): boolean {
  return reqid >= REQID_BASE && reqid < REQID_BASE + REQID_SPAN;
}

/** An SPI as `ip xfrm` prints it. */
export function spiHex(spi: number): string {
  return `0x${spi.toString(16).padStart(8, "0")}`;
}

function hostPrefix(addr: string): string {
  return addr.includes(":") ? `${addr}/128` : `${addr}/32`;
}

/**
 * `xfrm state add` of an ESP SA exactly as reconcile runs it (the kernel probe uses it too);
 * `update` with the same SA changes only its lifetime (`hardSeconds` counts from the add time).
 */
export function saArgs(
  src: string,
  dst: string,
  spi: number,
  reqid: number,
  key: Uint8Array,
  hardSeconds: number = ESP_SA_HARD_LIFETIME_S,
  verb: "add" | "update" = "add",
): string[] {
  const args = [
    "xfrm",
    "state",
    verb,
    "src",
    src,
    "dst",
    dst,
    "proto",
    "esp",
    "spi",
    spiHex(spi),
    "reqid",
    String(reqid),
    "mode",
    "transport",
    "replay-window",
    "256",
    "flag",
    "esn",
    "aead",
    "rfc4106(gcm(aes))",
    `0x${hex(key)}`,
    "128",
    "limit",
    "time-hard",
    String(hardSeconds),
  ];
  return args;
}

/** `xfrm state delete` of one of our SAs. */
export function saDeleteArgs(src: string, dst: string, spi: number): string[] {
  return ["xfrm", "state", "delete", "src", src, "dst", dst, "proto", "esp", "spi", spiHex(spi)];
}

/** `xfrm policy add|delete` for VXLAN between two hosts (the kernel probe uses it too). */
export function policyArgs(
  verb: "add" | "delete",
  src: string,
  dst: string,
  dir: "in" | "out",
  port: number,
  reqid: number,
): string[] {
  const sel = [
    "src",
    hostPrefix(src),
    "dst",
    hostPrefix(dst),
    "proto",
    "udp",
    "dport",
    String(port),
    "dir",
    dir,
  ];
  if (verb === "delete") return ["xfrm", "policy", "delete", ...sel];
  const tmpl = [
    "src",
    src,
    "dst",
    dst,
    "proto",
    "esp",
    "reqid",
    String(reqid),
    "mode",
    "transport",
  ];
  return ["xfrm", "policy", "add", ...sel, "tmpl", ...tmpl];
}
