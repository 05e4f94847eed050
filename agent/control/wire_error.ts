/**
 * Why the control plane dropped a connection or a message. Every drop of bad input from the
 * network is counted under one of these reasons and never crashes the agent.
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
