/**
 * Failures with a configured peer surface at warn once per episode, not once per attempt: an
 * episode runs from the first failure after a session (or after start) until the next session
 * is up. The first failure is logged at warn with what went wrong; the retries after it are
 * logged at debug (and counted, and shown in `status` as the peer's `lastError`); when the
 * session finally comes up, one info line says how many attempts it took. A fleet of a hundred
 * booting boxes thus logs at most one warning per peer, instead of one per retry.
 *
 * @module
 */

import type { Logger } from "./logger.ts";
import type { PeerRecord } from "./peer_record.ts";

/** Logs a failed attempt with `rec`: at warn for the episode's first, at debug after that. */
export function logPeerFailure(log: Logger, rec: PeerRecord, msg: string): void {
  rec.lastError = msg;
  const fields = { peer: rec.endpoint.name, attempts: rec.attempts };
  if (rec.warned) {
    log.debug(msg, fields);
    return;
  }
  rec.warned = true;
  log.warn(`${msg} (retrying with backoff; further failures with this peer at debug)`, fields);
}

/** Ends the episode when the session is up: says so at info if a warning was given. */
export function endEpisode(log: Logger, rec: PeerRecord): void {
  if (rec.warned) {
    log.info("session established after failed attempts", {
      peer: rec.endpoint.name,
      attempts: rec.attempts,
    });
  }
  rec.warned = false;
}
