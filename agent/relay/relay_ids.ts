/**
 * Fleet-wide relay ids (#16): the 32-bit names of boxes in the sleeve's relay header
 * (datapath/sleeve/wire.ts). Every box derives the same id from the same peer name, so a relay
 * can tell where a datagram goes without any table exchanged: SHA-256 of a label and the name,
 * its first four bytes, big-endian. 0 is never an id (it means "none" in the sleeve).
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";

const LABEL = "weave-agent relay id v1\0";
const encoder = new TextEncoder();

/** The relay id of peer `name`. */
export function relayId(name: string): number {
  const h = sha256(encoder.encode(LABEL + name));
  const id = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
  return id === 0 ? 1 : id;
}

/**
 * Names whose ids collide (a 1-in-4-billion chance per pair): relaying between those boxes
 * would be ambiguous, so the agent relays for neither of them (and says so).
 */
export function collidingIds(names: readonly string[]): string[] {
  const seen = new Map<number, string>();
  const out = new Set<string>();
  for (const n of names) {
    const id = relayId(n);
    const other = seen.get(id);
    if (other !== undefined) {
      out.add(other);
      out.add(n);
    } else seen.set(id, n);
  }
  return [...out].sort();
}
