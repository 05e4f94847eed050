/**
 * Accepting control connections: the accept loop, and admission before any key exchange.
 * Addresses no configured peer has are refused at once, unless some peer has no fixed address
 * and carries a key (#15: a box behind NAT, or given by DNS name): then a connection from any
 * address may run the handshake, and `admitName` (name_admission.ts) binds it to such a peer's name only,
 * never to a peer with a fixed address, and the handshake goes on only by proof of that
 * peer's key (never by source address). The number of accepted connections still handshaking
 * is capped in total and per source address, so unauthenticated clients cannot exhaust the
 * agent.
 *
 * @module
 */

import { type ControlContext, errorMessage } from "./context.ts";
import { canonicalAddress } from "./peer_address.ts";
import { runConnection } from "./session_agreement.ts";
import { DenoConnStream } from "./tcp_stream.ts";
import { handshakeDeadlineMs } from "./options.ts";

/** Pause after a failed accept (out of file descriptors and the like). */
const ACCEPT_RETRY_MS = 100;

/** Caps on accepted connections still handshaking, in total and per source. */
export class Admission {
  #pending = 0;
  readonly #bySource = new Map<string, number>();

  constructor(readonly maxPending: number, readonly maxPerSource: number) {}

  /** Connections from any source still handshaking. */
  get pending(): number {
    return this.#pending;
  }

  /** Connections from `source` (canonical) still handshaking. */
  pendingFrom(source: string): number {
    return this.#bySource.get(source) ?? 0;
  }

  /** Takes a slot for `source`; false when a cap is reached. */
  reserve(source: string): boolean {
    const n = this.pendingFrom(source);
    if (this.#pending >= this.maxPending || n >= this.maxPerSource) return false;
    this.#pending++;
    this.#bySource.set(source, n + 1);
    return true;
  }

  /** Gives back a slot taken by reserve(). */
  release(source: string): void {
    this.#pending--;
    const left = this.pendingFrom(source) - 1;
    if (left > 0) this.#bySource.set(source, left);
    else this.#bySource.delete(source);
  }
}

/** Accepts until the listener closes; each admitted connection runs the handshake. */
export async function acceptLoop(
  ctx: ControlContext,
  admission: Admission,
  listener: Deno.TcpListener,
): Promise<void> {
  while (!ctx.closed()) {
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch (e) {
      if (ctx.closed() || e instanceof Deno.errors.BadResource) return;
      // Out of file descriptors and the like: keep listening once the pressure is off.
      ctx.drops.log("error", "accept", "accepting a control connection failed", {
        error: errorMessage(e),
      });
      await new Promise((r) => setTimeout(r, ACCEPT_RETRY_MS));
      continue;
    }
    onAccept(ctx, admission, conn);
  }
}

function onAccept(ctx: ControlContext, admission: Admission, conn: Deno.TcpConn): void {
  const from = canonicalAddress(conn.remoteAddr.hostname);
  if (ctx.closed()) {
    conn.close();
    return;
  }
  // Cheap refusals first: no key exchange for addresses that no configured peer has (unless a
  // keyed peer may connect from anywhere: its key, not its address, admits it).
  if (ctx.peers.countAt(from) === 0 && ctx.peers.roamingCount === 0) {
    conn.close();
    // One rate-limit key for all unknown addresses: there can be any number of them.
    ctx.drops.drop(
      "unknown-peer",
      "unconfigured address",
      `refused control connection from ${from}: no peer in weave.yaml has that address`,
    );
    return;
  }
  if (!admission.reserve(from)) {
    conn.close();
    ctx.drops.drop(
      "too-many-pending",
      from,
      `refused control connection from ${from}: too many unauthenticated connections`,
    );
    return;
  }
  try {
    conn.setNoDelay(true);
  } catch {
    // Already reset by the peer: the handshake will notice.
  }
  const stream = new DenoConnStream(conn);
  ctx.track(
    runConnection(ctx, stream, from, null, handshakeDeadlineMs(ctx.o))
      .finally(() => admission.release(from)),
  );
}
