/**
 * The top-level scalars of weave.yaml: `version`, `port`, `vxlan_port`, `datapath`,
 * `underlay_mtu` and `metrics`, with their named defaults.
 *
 * @module
 */

import { isScalar } from "./yaml.ts";
import { didYouMean } from "./did_you_mean.ts";
import { formatIp, parseIp, splitHostPort } from "./ip.ts";
import { checkPeerName } from "./names.ts";
import { type ParseContext, resolveAgainstConfig, type TopLevel } from "./parse_context.ts";
import type { DatapathMode, MetricsEndpoint } from "./types.ts";
import { describeValue, type YNode } from "./yaml_reader.ts";

/** Control TCP and sleeve UDP port when `port:` is absent. */
export const DEFAULT_PORT = 6783;
/** `underlay_mtu:` when absent. */
export const DEFAULT_UNDERLAY_MTU = 1500;
/** The smallest MTU IPv4 links must carry (RFC 791). */
export const MIN_UNDERLAY_MTU = 576;
/** IPv6 links (the overlay ones too) must carry 1280-byte packets (RFC 8200). */
export const MIN_UNDERLAY_MTU_IPV6 = 1280;
/** Jumbo frames. */
export const MAX_UNDERLAY_MTU = 9216;
/** IPv6 links (the overlay ones too) must carry 1280-byte packets (RFC 8200). */
export const MIN_IPV6_LINK_MTU = 1280;
/** `datapath:` when absent. */
export const DEFAULT_DATAPATH: DatapathMode = "auto";

/** `key_file:` when absent: the same path on every box, each box's own content. */
export const DEFAULT_KEY_FILE = "/etc/weave/node.key";
/** `rekey_after:` when absent (WireGuard's REKEY_AFTER_TIME). */
export const DEFAULT_REKEY_AFTER_MS = 120_000;
/** `reject_after:` when absent (WireGuard's REJECT_AFTER_TIME). */
export const DEFAULT_REJECT_AFTER_MS = 180_000;
/** Bounds of `rekey_after:`: a handshake per second at most, and keys at most a day old. */
export const MIN_REKEY_AFTER_MS = 10_000;
export const MAX_REJECT_AFTER_MS = 86_400_000;
/**
 * `nat_keepalive:` when absent: below the shortest UDP mapping timeout common NATs use (30 s;
 * RFC 4787 asks for at least 2 minutes, but home routers and carrier NATs keep far less).
 */
export const DEFAULT_NAT_KEEPALIVE_MS = 25_000;
/** Bounds of `nat_keepalive:`: a datagram a second at most, and under the RFC 4787 minimum. */
export const MIN_NAT_KEEPALIVE_MS = 1_000;
export const MAX_NAT_KEEPALIVE_MS = 120_000;

const DATAPATHS: readonly DatapathMode[] = ["auto", "fastdp", "sleeve"];

/** `key: <integer in min..max>` when present. */
export function optionalInt(
  ctx: ParseContext,
  top: TopLevel,
  key: string,
  min: number,
  max: number,
  example: string,
): number | undefined {
  const e = top.get(key);
  return e ? ctx.r.integer(e.value, key, min, max, example) : undefined;
}

/** `version: 1`, required. */
export function parseVersion(ctx: ParseContext, top: TopLevel, root: YNode): void {
  const e = top.get("version");
  if (!e) {
    ctx.report.error(root, "version is missing", `add "version: 1" as the first line`);
    return;
  }
  if (isScalar(e.value) && e.value.value === 1) return;
  ctx.report.error(
    e.value,
    `version must be 1, got ${describeValue(e.value)}`,
    'this agent reads weave.yaml version 1; write "version: 1"',
  );
}

/** `vxlan_port:`, default `port + 1`; never equal to `port`. Undefined: invalid (reported). */
export function parseVxlanPort(ctx: ParseContext, top: TopLevel, port: number): number | undefined {
  const e = top.get("vxlan_port");
  if (!e) {
    if (port === 65535) {
      ctx.report.error(
        top.get("port")!.value,
        "port 65535 leaves no room for the default vxlan_port (port + 1)",
        "set vxlan_port: explicitly, or use a lower port",
      );
      return undefined;
    }
    return port + 1;
  }
  const v = ctx.r.integer(e.value, "vxlan_port", 1, 65535, "vxlan_port: 6784");
  if (v === undefined) return undefined;
  if (v === port) {
    ctx.report.error(
      e.value,
      `vxlan_port ${v} is the same as port`,
      "VXLAN needs its own UDP port: remove vxlan_port to use port + 1, or pick another",
    );
    return undefined;
  }
  return v;
}

/** `datapath: auto | fastdp | sleeve`, default auto. */
export function parseDatapath(ctx: ParseContext, top: TopLevel): DatapathMode {
  const e = top.get("datapath");
  if (!e) return DEFAULT_DATAPATH;
  const v = isScalar(e.value) ? e.value.value : undefined;
  const mode = DATAPATHS.find((d) => d === v);
  if (mode) return mode;
  const suggestion = typeof v === "string" ? didYouMean(v, DATAPATHS) : "";
  ctx.report.error(
    e.value,
    `datapath must be one of ${DATAPATHS.join(", ")}, got ${describeValue(e.value)}${suggestion}`,
    "auto uses the kernel's VXLAN where both ends can and the sleeve otherwise",
  );
  return DEFAULT_DATAPATH;
}

/** `metrics: host:port`, default off (null). */
export function parseMetrics(ctx: ParseContext, top: TopLevel): MetricsEndpoint | null {
  const e = top.get("metrics");
  if (!e) return null;
  const example = "metrics: 127.0.0.1:9100";
  const text = ctx.r.string(e.value, "metrics", example);
  if (text === undefined) return null;
  const hp = splitHostPort(text);
  const bad = (why: string) => {
    ctx.report.error(
      e.value,
      `metrics must be host:port, got "${text}": ${why}`,
      `e.g. "${example}" or "[::1]:9100"; remove the line to turn metrics off`,
    );
    return null;
  };
  if (!hp) return bad("the port must be a number from 1 to 65535");
  if (hp.port === undefined) return bad("the port is missing");
  const ip = parseIp(hp.host);
  if (hp.bracketed && ip?.family !== 6) return bad("only IPv6 addresses go in brackets");
  if (!ip && checkPeerName(hp.host) !== null) {
    return bad(`"${hp.host}" is neither an IP address nor a host name`);
  }
  return { host: ip ? formatIp(ip) : hp.host, port: hp.port };
}

/** `key_file:` resolved against the config's folder; default {@link DEFAULT_KEY_FILE}. */
export function parseKeyFile(ctx: ParseContext, top: TopLevel): string {
  const e = top.get("key_file");
  if (!e) return DEFAULT_KEY_FILE;
  const text = ctx.r.string(e.value, "key_file", `key_file: ${DEFAULT_KEY_FILE}`);
  if (text === undefined) return DEFAULT_KEY_FILE;
  if (text.includes("\0") || text.endsWith("/")) {
    ctx.report.error(
      e.value,
      `key_file "${text}" is not a file path`,
      `e.g. key_file: ${DEFAULT_KEY_FILE}`,
    );
    return DEFAULT_KEY_FILE;
  }
  return resolveAgainstConfig(ctx, text);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `90s`, `2m`, `1h30m`, `1500ms` → milliseconds; null when it is not such a duration. */
export function parseDuration(text: string): number | null {
  if (!/^([0-9]+(ms|s|m|h))+$/.test(text)) return null;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/([0-9]+)(ms|s|m|h)/g)) ms += Number(n) * UNIT_MS[unit];
  return Number.isSafeInteger(ms) ? ms : null;
}

/** `90s` for messages: the largest whole unit. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Two examples per duration key, for the hints. */
const EXAMPLES: Record<string, [string, string]> = {
  rekey_after: ["120s", "2m"],
  reject_after: ["180s", "3m"],
  nat_keepalive: ["25s", "15s"],
};

/**
 * `nat_keepalive:` (default {@link DEFAULT_NAT_KEEPALIVE_MS}): how often the sleeve sends a
 * keepalive to a peer it has sent nothing to, for pairs whose UDP path crosses a NAT (#15).
 */
export function parseNatKeepalive(ctx: ParseContext, top: TopLevel): number {
  return durationKey(ctx, top, "nat_keepalive", MIN_NAT_KEEPALIVE_MS, MAX_NAT_KEEPALIVE_MS) ??
    DEFAULT_NAT_KEEPALIVE_MS;
}

/** A duration key with units, in `min..max`; undefined when absent or invalid (reported). */
function durationKey(
  ctx: ParseContext,
  top: TopLevel,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const e = top.get(key);
  if (!e) return undefined;
  const example = `${key}: ${EXAMPLES[key]?.[0] ?? "180s"}`;
  const v = isScalar(e.value) ? e.value.value : undefined;
  const text = typeof v === "number" ? String(v) : typeof v === "string" ? v : undefined;
  const ms = text === undefined ? null : parseDuration(text);
  if (ms === null) {
    ctx.report.error(
      e.value,
      `${key} must be a duration with a unit (ms, s, m, h), got ${describeValue(e.value)}`,
      `e.g. ${example} or ${key}: ${EXAMPLES[key]?.[1] ?? "3m"}`,
    );
    return undefined;
  }
  if (ms < min || ms > max) {
    ctx.report.error(
      e.value,
      `${key} ${text} is out of range: from ${formatDuration(min)} to ${formatDuration(max)}`,
      `e.g. ${example}`,
    );
    return undefined;
  }
  return ms;
}

/** `rekey_after:` and `reject_after:` (defaults 120 s, 180 s); reject_after > rekey_after. */
export function parseRekeyTimes(
  ctx: ParseContext,
  top: TopLevel,
): { rekeyAfterMs: number; rejectAfterMs: number } {
  const rekey = durationKey(ctx, top, "rekey_after", MIN_REKEY_AFTER_MS, MAX_REJECT_AFTER_MS);
  const reject = durationKey(ctx, top, "reject_after", MIN_REKEY_AFTER_MS, MAX_REJECT_AFTER_MS);
  const rekeyAfterMs = rekey ?? DEFAULT_REKEY_AFTER_MS;
  const rejectAfterMs = reject ?? DEFAULT_REJECT_AFTER_MS;
  const bothValid = (rekey !== undefined || !top.has("rekey_after")) &&
    (reject !== undefined || !top.has("reject_after"));
  if (bothValid && rejectAfterMs <= rekeyAfterMs) {
    const at = top.get("reject_after") ?? top.get("rekey_after")!;
    ctx.report.error(
      at.value,
      `reject_after ${formatDuration(rejectAfterMs)} must be longer than rekey_after ` +
        `${formatDuration(rekeyAfterMs)}: a session must be re-keyed before its keys are refused`,
      `e.g. rekey_after: ${formatDuration(rekeyAfterMs)} and reject_after: ` +
        `${formatDuration(Math.round(rekeyAfterMs * 1.5))}`,
    );
  }
  return { rekeyAfterMs, rejectAfterMs };
}
