/**
 * Which name an accepted connection may claim, given the address it comes from (#15): the
 * address binds peers that have a fixed one; a keyed peer without a fixed address may come
 * from anywhere, and is then bound to its name only by proof of its key.
 *
 * @module
 */

import type { ControlContext } from "./context.ts";
import { roaming } from "./peer_record.ts";

/**
 * Who may claim `name` from `from` (canonical): null admits, a string is the refusal. A peer
 * with a fixed address (or a DNS-named one without a key: the address its name gave at our
 * last dial) must connect from there; a keyed peer without a fixed address from anywhere, and
 * the handshake then demands proof of its key (handshake_core.ts `keyRefusal`) before it is
 * bound to the name.
 */
export function admitName(ctx: ControlContext, name: string, from: string): string | null {
  const rec = ctx.peers.get(name);
  if (!rec) return `peer name ${name} is not in weave.yaml of ${ctx.o.localName}`;
  if (roaming(rec.endpoint) || rec.canonical === from) return null;
  if (rec.endpoint.address) {
    return `peer ${name} must connect from ${rec.endpoint.address}, not ${from}`;
  }
  return rec.canonical
    ? `peer ${name} has no key: it must connect from ${rec.canonical} (what ${rec.endpoint.host} ` +
      `gave at the last dial), not ${from}`
    : `peer ${name} has no key and no fixed address: it is admitted only once dialled`;
}
