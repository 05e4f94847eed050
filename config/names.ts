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
