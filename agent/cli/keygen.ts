/**
 * `weave-agent keygen --out FILE` (#15): this box's node key. The logic (a new X25519 key
 * pair, the file written 0600 and never over anything, the public key printed) is the control
 * plane's `keygenCommand`; this file only binds it to the command line.
 *
 * @module
 */

import { keygenCommand } from "../control/mod.ts";
import type { CommonFlags } from "./args.ts";

export function keygenCliCommand(flags: CommonFlags): Promise<number> {
  return keygenCommand({ out: flags.out });
}
