/**
 * Naming rules. Peer names are hostnames (the default identity is `Deno.hostname()`); network
 * names end up inside Linux interface names (`wvb-<name>`), which the kernel caps at 15
 * characters, so they are short, lower case and safe on a command line.
 *
 * @module
 */

import { bridgeName, MAX_NETWORK_NAME_LENGTH } from "../datapath/link_names.ts";

/** Longest peer name: one DNS label. */
export const MAX_PEER_NAME_LENGTH = 63;

const PEER_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/;
const NETWORK_NAME = new RegExp(`^[a-z][a-z0-9-]{0,${MAX_NETWORK_NAME_LENGTH - 1}}$`);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A broken naming rule: what is wrong, and how to fix it. */
export interface NameProblem {
  message: string;
  hint: string;
}

/** Null when `name` is a valid peer name. */
export function checkPeerName(name: string): NameProblem | null {
  if (PEER_NAME.test(name)) return null;
  const hint = `use 1 to ${MAX_PEER_NAME_LENGTH} letters, digits, ".", "_" or "-", ` +
    `starting with a letter or digit (like a hostname)`;
  if (name.length > MAX_PEER_NAME_LENGTH) {
    return {
      message: `peer name "${name}" is ${name.length} characters; at most ` +
        `${MAX_PEER_NAME_LENGTH} are allowed`,
      hint,
    };
  }
  return { message: `peer name "${name}" is not a valid hostname`, hint };
}

/** Null when `name` is a valid network name. */
export function checkNetworkName(name: string): NameProblem | null {
  if (NETWORK_NAME.test(name)) return null;
  const why = `it becomes part of interface names like "${bridgeName(name)}" and Linux allows ` +
    `15 characters`;
  const hint = `use 1 to ${MAX_NETWORK_NAME_LENGTH} lower-case letters, digits or "-", ` +
    `starting with a letter`;
  if (name.length > MAX_NETWORK_NAME_LENGTH) {
    return {
      message: `network name "${name}" is ${name.length} characters, at most ` +
        `${MAX_NETWORK_NAME_LENGTH} are allowed: ${why}`,
      hint,
    };
  }
  return {
    message: `network name "${name}" may only hold lower-case letters, digits and "-", ` +
      `starting with a letter: ${why}`,
    hint,
  };
}

/** True for a portable environment variable name. */
export function isValidEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/** Longest DNS name (RFC 1035), without the trailing dot. */
export const MAX_HOST_NAME_LENGTH = 253;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Null when `host` is a DNS name a peer can be dialled at (`edge-7.example.net`): labels of
 * letters, digits and inner "-", at most 63 characters each and 253 in all, and a last label
 * that is not all digits (so a mistyped IPv4 address is never taken for a name).
 */
export function checkHostName(host: string): NameProblem | null {
  const hint = "write an IPv4 or IPv6 address, or a DNS name such as edge-7.example.net, " +
    "optionally with :port";
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > MAX_HOST_NAME_LENGTH) {
    return { message: `"${host}" is not a DNS name: it must be 1 to 253 characters`, hint };
  }
  const labels = name.split(".");
  const bad = labels.find((l) => !HOST_LABEL.test(l));
  if (bad !== undefined) {
    return {
      message: `"${host}" is not an IP address or a DNS name: label "${bad}" may only hold ` +
        `letters, digits and inner "-", at most 63 characters`,
      hint,
    };
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) {
    return { message: `"${host}" is not a valid IP address`, hint };
  }
  return null;
}

/** A Kubernetes-style name (`[a-z0-9-]`, 1–63, starting with a letter, not ending in "-"). */
const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Null when `name` is a valid workload or policy name (a lower-case DNS label). */
export function checkDnsLabel(name: string, what: string): NameProblem | null {
  if (DNS_LABEL.test(name)) return null;
  return {
    message: `${what} "${name}" is not a valid name`,
    hint: `use 1 to 63 lower-case letters, digits or "-", starting with a letter and not ` +
      `ending with "-"`,
  };
}
