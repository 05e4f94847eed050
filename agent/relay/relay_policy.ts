/**
 * Who may carry whose traffic (#16), from weave.yaml: a box with `relay: false` forwards for
 * nobody; a box with `relays: [...]` lets only those boxes carry its traffic. The same rule the
 * route computation applies (agent/topology/routes.ts), checked again by every relay and every
 * endpoint on what actually arrives. Pure.
 *
 * @module
 */

import { OPEN_RELAY_POLICY, type RelayPolicy } from "../topology/mod.ts";

/** May `relay` carry traffic between the boxes `ends`? */
export function mayRelay(
  relay: string,
  ends: readonly string[],
  policy: ReadonlyMap<string, RelayPolicy>,
): boolean {
  const pol = (n: string) => policy.get(n) ?? OPEN_RELAY_POLICY;
  if (!pol(relay).relay || ends.includes(relay)) return false;
  return ends.every((e) => {
    const list = pol(e).relays;
    return list === null || list.includes(relay);
  });
}
