/**
 * Validation of what a workload brings to a command line: its name, its namespace (a name under
 * /run/netns or an absolute path to a namespace file) and its addresses. The planner refuses a
 * workload that fails here (an error for that workload only); nothing unchecked reaches `ip`.
 *
 * @module
 */

import type { DesiredWorkload } from "./desired.ts";

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const NETNS_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NETNS_PATH_RE = /^(\/[A-Za-z0-9_.-]+)+$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_RE = /^[0-9a-f:]{2,39}$/;

/** True for an IPv4 address or a lower-case IPv6 address (as config emits them). */
export function isAddress(a: string): boolean {
  return IPV4_RE.test(a) || (IPV6_RE.test(a) && a.includes(":") && a.split("::").length <= 2);
}

/** True when `netns` is a path to a namespace file rather than a name under /run/netns. */
export function isNetnsPath(netns: string): boolean {
  return netns.startsWith("/");
}

/** The namespace file a workload's `netns` refers to. */
export function netnsFile(netns: string): string {
  return isNetnsPath(netns) ? netns : `/run/netns/${netns}`;
}

/** Why this workload cannot be plumbed as given, or null when every field is safe. */
export function workloadProblem(w: DesiredWorkload): string | null {
  if (!NAME_RE.test(w.name)) return `invalid workload name ${JSON.stringify(w.name)}`;
  if (isNetnsPath(w.netns)) {
    if (!NETNS_PATH_RE.test(w.netns) || w.netns.split("/").some((p) => p === "..")) {
      return `invalid namespace path ${JSON.stringify(w.netns)}`;
    }
  } else if (!NETNS_NAME_RE.test(w.netns)) {
    return `invalid namespace name ${JSON.stringify(w.netns)}`;
  }
  if (!isAddress(w.address)) return `invalid address ${JSON.stringify(w.address)}`;
  const max = w.address.includes(":") ? 128 : 32;
  if (!Number.isInteger(w.prefixLength) || w.prefixLength < 1 || w.prefixLength > max) {
    return `invalid prefix length ${w.prefixLength}`;
  }
  if (w.gateway !== null && !isAddress(w.gateway)) {
    return `invalid gateway ${JSON.stringify(w.gateway)}`;
  }
  if (!Number.isInteger(w.mtu) || w.mtu < 576 || w.mtu > 65535) return `invalid MTU ${w.mtu}`;
  return null;
}
