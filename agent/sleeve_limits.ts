/**
 * Lower per-key limits for the sleeve, from the environment (as `WEAVE_SLEEVE_CRYPTO` picks the
 * backend): a key that reaches them asks for a rekey early (#14).
 *
 * @module
 */

import type { SessionLimits } from "../datapath/sleeve/mod.ts";

/**
 * `WEAVE_SLEEVE_REKEY_AFTER_PACKETS`: a lower packet count after which a sleeve key asks for a
 * rekey (tests, cautious operators; it can only lower the AEAD's own limit). Unset: none. A bad
 * value is a start-up error naming the variable.
 */
export function sleeveLimitsFromEnv(
  value = Deno.env.get("WEAVE_SLEEVE_REKEY_AFTER_PACKETS"),
): Partial<SessionLimits> | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(
      `WEAVE_SLEEVE_REKEY_AFTER_PACKETS must be a whole number ≥ 1, not ${JSON.stringify(value)}`,
    );
  }
  return { rekeyAfterPackets: n };
}
