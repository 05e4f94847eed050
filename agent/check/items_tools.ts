/**
 * Check items of the `privileges` and `tools` groups: root or CAP_NET_ADMIN, realtime priority
 * for the sleeve's packet worker, and `ip`, `bridge`, `nft` present and new enough.
 *
 * @module
 */

import { type CheckItem, item } from "./item.ts";

const CAP_NET_ADMIN = 12n;
const CAP_SYS_NICE = 23n;

/** The effective capability set from /proc/self/status text, or null. */
export function parseCapEff(procStatus: string): bigint | null {
  const m = procStatus.match(/^CapEff:\s*([0-9a-fA-F]+)\s*$/m);
  return m ? BigInt(`0x${m[1]}`) : null;
}

/** Root, or at least CAP_NET_ADMIN (enough for links, xfrm and nft; TUN needs it too). */
export function privilegesItem(uid: number | null, capEff: bigint | null): CheckItem {
  const netAdmin = capEff !== null && ((capEff >> CAP_NET_ADMIN) & 1n) === 1n;
  if (uid === 0 && netAdmin) return item("privileges", "privileges", "ok", "root (CAP_NET_ADMIN)");
  if (netAdmin) {
    return item("privileges", "privileges", "ok", `uid ${uid} with CAP_NET_ADMIN`);
  }
  return item(
    "privileges",
    "privileges",
    "failure",
    `uid ${uid ?? "?"} without CAP_NET_ADMIN: cannot create links, xfrm states or nft tables`,
    "run as root (sudo weave-agent …) or grant it: setcap cap_net_admin+ep $(command -v weave-agent)",
  );
}

/** The soft "Max realtime priority" (RLIMIT_RTPRIO) from /proc/self/limits text, or null. */
export function parseRtprio(procLimits: string): number | null {
  const m = procLimits.match(/^Max realtime priority\s+(\S+)\s+\S+/m);
  if (!m) return null;
  return m[1] === "unlimited" ? Infinity : Number.isFinite(Number(m[1])) ? Number(m[1]) : null;
}

/**
 * Whether the sleeve's packet worker will get realtime priority (issue #18): CAP_SYS_NICE, or
 * an RLIMIT_RTPRIO of at least 1. Without either it runs at the ordinary policy: it works, but
 * under load packets wait behind busy processes, so this is a warning, not a failure.
 */
export function realtimeItem(
  capEff: bigint | null,
  rtprio: number | null,
  off: boolean,
): CheckItem {
  const id = "privileges.realtime", group = "privileges";
  if (off) return item(id, group, "ok", "off (WEAVE_SLEEVE_REALTIME=off): ordinary priority");
  if (capEff !== null && ((capEff >> CAP_SYS_NICE) & 1n) === 1n) {
    return item(
      id,
      group,
      "ok",
      "the sleeve's packet worker may run at realtime priority (CAP_SYS_NICE)",
    );
  }
  if (rtprio !== null && rtprio >= 1) {
    return item(
      id,
      group,
      "ok",
      `the sleeve's packet worker may run at realtime priority (RLIMIT_RTPRIO ${rtprio})`,
    );
  }
  return item(
    id,
    group,
    "warning",
    `neither CAP_SYS_NICE nor RLIMIT_RTPRIO ≥ 1 (it is ${rtprio ?? "unknown"}): the sleeve's ` +
      `packet worker will run at the ordinary priority, and under load its packets wait behind ` +
      `busy processes`,
    "under systemd: LimitRTPRIO=1 in the unit (and no RestrictRealtime=yes); elsewhere: " +
      "prlimit --rtprio=1 or run as root; WEAVE_SLEEVE_REALTIME=off to silence this",
  );
}

/** A version as [major, minor, patch]. */
export type Version = [number, number, number];

/** `ip -V` / `bridge -V` output → version. Knows `iproute2-6.1.0` and the old `iproute2-ss190107`. */
export function parseIproute2Version(text: string): Version | null {
  // `ip -V`: "ip utility, iproute2-6.1.0, libbpf 1.1.2"; `bridge -V`: "bridge utility, 6.1.0".
  const m = text.match(/(?:iproute2-|utility, )(\d+)\.(\d+)(?:\.(\d+))?/);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  const ss = text.match(/iproute2-ss(\d{6})/);
  if (!ss) return null;
  // Snapshot tags are release dates: 5.0 was tagged 2019-03-04, 4.14 on 2017-11-13.
  const date = Number(ss[1]);
  return date >= 190304 ? [5, 0, 0] : date >= 171113 ? [4, 14, 0] : [4, 0, 0];
}

/** `nft --version` output (`nftables v1.0.6 (Lester Gooch #5)`) → version. */
export function parseNftVersion(text: string): Version | null {
  const m = text.match(/nftables v(\d+)\.(\d+)(?:\.(\d+))?/);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

function below(v: Version, min: Version): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i] < min[i];
  return false;
}

const vtext = (v: Version) => v.join(".");

/**
 * Minimum versions. iproute2: `ip -json` for routes and `-d` link details (VXLAN id and port)
 * works from 4.14 (below: failure); 5.0 is the oldest we consider tested (below: warning) — it
 * fixed the JSON of `bridge fdb` and `ip -d link` that plans are compared against. nft: the
 * `inet` family with `-f -` atomic replacement needs 0.9.0; 0.9.3 is the tested minimum.
 */
export const TOOL_MINIMUMS: Record<
  "ip" | "bridge" | "nft",
  { required: Version; tested: Version; pkg: string }
> = {
  ip: { required: [4, 14, 0], tested: [5, 0, 0], pkg: "iproute2" },
  bridge: { required: [4, 14, 0], tested: [5, 0, 0], pkg: "iproute2" },
  nft: { required: [0, 9, 0], tested: [0, 9, 3], pkg: "nftables" },
};

/** A tool item from its version output (null: not found / would not run). */
export function toolItem(tool: "ip" | "bridge" | "nft", versionOutput: string | null): CheckItem {
  const id = `tool.${tool}`;
  const min = TOOL_MINIMUMS[tool];
  const install = `apt-get install ${min.pkg} (or your distribution's ${min.pkg} package)`;
  if (versionOutput === null) {
    return item(id, "tools", "failure", `${tool} not found in PATH`, install);
  }
  const v = tool === "nft" ? parseNftVersion(versionOutput) : parseIproute2Version(versionOutput);
  if (!v) {
    return item(
      id,
      "tools",
      "warning",
      `${tool} present, version unknown (${versionOutput.trim().slice(0, 60)})`,
      `make sure ${min.pkg} >= ${vtext(min.tested)} is installed`,
    );
  }
  const name = `${min.pkg} ${vtext(v)}`;
  if (below(v, min.required)) {
    return item(
      id,
      "tools",
      "failure",
      `${tool}: ${name}, too old (needs >= ${vtext(min.required)})`,
      `upgrade: ${install}`,
    );
  }
  if (below(v, min.tested)) {
    return item(
      id,
      "tools",
      "warning",
      `${tool}: ${name}, older than the tested ${vtext(min.tested)}`,
      `upgrade ${min.pkg} if anything misbehaves`,
    );
  }
  return item(id, "tools", "ok", `${tool}: ${name}`);
}
