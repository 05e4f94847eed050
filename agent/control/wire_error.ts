/**
 * The control plane's one error contract for what comes off the wire.
 *
 * - Anything that reads or parses network input (`frame_reader.ts`, `handshake.ts`,
 *   `secure_channel.ts`) throws a {@link WireError} and nothing else for bad input; its `reason`
 *   is a {@link DropReason}, or `"refused"` when the remote side refused us and said why.
 * - Errors of our own making are not WireErrors: a message we cannot encode or a bound we would
 *   exceed on sending is a `RangeError` (a bug or a misuse, never the peer's fault).
 * - Socket errors (reset, refused, unreachable) are whatever the runtime throws. The one place
 *   that catches for a new connection (`session_agreement.ts`) turns them into WireError
 *   `"truncated"` and a missed deadline into `"timeout"`; for an established session
 *   (`session.ts`) they end the session with the socket's message as the reason.
 * - That place classifies each failure once: a DropReason is counted (`drop_counter.ts`) and
 *   logged at a bounded rate, a refusal is logged but not counted (the bad input was ours), and
 *   the peer's state and `lastError` say what happened. A failure never ends other sessions.
 * - Decisions return values instead of throwing: admission returns null or the refusal text.
 *
 * @module
 */

/** Reasons under which bad input is counted. */
export type DropReason =
  /** Not the weave-agent protocol (wrong magic / protocol name). */
  | "bad-header"
  /** The right protocol, but no protocol version in common. */
  | "bad-version"
  /** Malformed handshake records or messages. */
  | "garbage"
  /** The connection ended in the middle of a handshake record or frame. */
  | "truncated"
  /** A length prefix beyond the bound. */
  | "oversize"
  /** The handshake did not complete in time (slow-loris), or the peer went silent. */
  | "timeout"
  /** A name not in weave.yaml, or a configured name from the wrong source address. */
  | "unknown-peer"
  /** A sealed message that failed authentication: forged, replayed or out of order. */
  | "forged"
  /** Key confirmation failed: wrong password, tampering, or a replayed handshake. */
  | "auth"
  /** Too many unauthenticated connections at once (in total or from one address). */
  | "too-many-pending";

/** Every drop reason, in a stable order (for counters). */
export const DROP_REASONS: readonly DropReason[] = [
  "bad-header",
  "bad-version",
  "garbage",
  "truncated",
  "oversize",
  "timeout",
  "unknown-peer",
  "forged",
  "auth",
  "too-many-pending",
];

/**
 * A protocol failure on one connection. `reason` is a drop reason, or `"refused"` when the
 * remote side refused us and said why (nothing to count: the bad input was ours).
 */
export class WireError extends Error {
  constructor(readonly reason: DropReason | "refused", message: string) {
    super(message);
    this.name = "WireError";
  }
}
