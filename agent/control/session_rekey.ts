/**
 * Rekey of established sessions (#14) inside the connection manager: one `RekeyMachine` per
 * session (`rekey.ts`), fed by the session's "rekey" messages and a one-second tick; its actions
 * applied here: messages sent on the session, the control channel's keys replaced at the exact
 * points the machine gives, expired sessions ended, and the datapath's part (install, switch,
 * drop of per-purpose keys) handed to the owner through `onSessionKeys`.
 *
 * @module
 */

import type { ControlContext } from "./context.ts";
import type { CoreOptions } from "./handshake_core.ts";
import { HandshakeError } from "./handshake_core.ts";
import type { PeerRecord, Session } from "./peer_record.ts";
import { lagStretchMs } from "./options.ts";
import { parseRekeyMessage, type RekeyAction, RekeyMachine } from "./rekey.ts";
import type { ControlMessage } from "./secure_channel.ts";
import { WireError } from "./wire_error.ts";
import { endSession, sendOn } from "./session.ts";

/** How often the rekey timers are checked. */
export const REKEY_TICK_MS = 1000;

const machines = new WeakMap<Session, RekeyMachine>();

/** The passwords, node keys and names as the manager holds them now. */
function coreOptions(ctx: ControlContext): CoreOptions {
  return {
    localName: ctx.o.localName,
    passwords: { current: ctx.o.password, previous: ctx.o.previousPassword },
    nodeKey: ctx.o.nodeKey,
    peerKey: (name) => ctx.peers.get(name)?.endpoint.key ?? null,
  };
}

/** The session's machine, made on first use (rekeys off: null). */
function machineOf(ctx: ControlContext, rec: PeerRecord, s: Session): RekeyMachine | null {
  if (ctx.o.rekey === false) return null;
  let m = machines.get(s);
  if (!m) {
    m = new RekeyMachine({
      ...ctx.o.rekey,
      role: s.secrets.localIsDialer ? "initiator" : "responder",
      peerName: rec.endpoint.name,
      transcriptHash: s.secrets.transcriptHash ?? new Uint8Array(32),
      establishedAt: s.establishedAt,
      coreOptions: () => coreOptions(ctx),
      stretchMs: () => lagStretchMs(ctx.o),
    });
    machines.set(s, m);
  }
  return m;
}

/** What `status` shows of a session's keys (#14). */
export interface RekeyStatus {
  /** Which of this box's passwords the keys in use came from. */
  password: "current" | "previous";
  keyAgeSeconds: number;
  rekeys: number;
}

/** Key age, rekey count and password in use of a session (reads, never starts, the machine). */
export function rekeyStatus(s: Session, now: number): RekeyStatus {
  const m = machines.get(s);
  return {
    password: m?.password ?? s.secrets.password ?? "current",
    keyAgeSeconds: Math.round((m ? m.keyAgeMs(now) : now - s.establishedAt) / 1000),
    rekeys: m?.rekeys ?? 0,
  };
}

/** A "rekey" message on session `s`, handled synchronously (before the next frame is opened). */
export function onRekeyMessage(
  ctx: ControlContext,
  rec: PeerRecord,
  s: Session,
  msg: ControlMessage,
): void {
  const m = machineOf(ctx, rec, s);
  if (!m) return;
  const r = parseRekeyMessage(msg);
  if (!r) {
    apply(ctx, rec, s, [{
      type: "failed",
      error: new WireError("garbage", "a malformed rekey message"),
    }]);
    return;
  }
  apply(ctx, rec, s, m.receive(r, Date.now()));
}

/** The one-second tick over every session. */
export function rekeyTick(ctx: ControlContext): void {
  const now = Date.now();
  for (const rec of ctx.peers.values()) {
    const s = rec.session;
    if (!s || s.closed) continue;
    const m = machineOf(ctx, rec, s);
    if (m) apply(ctx, rec, s, m.tick(now));
  }
}

/** Sessions that must move to the passwords the box holds now (#14): a failed rekey ends them. */
const mustRenew = new WeakSet<Session>();

/**
 * The passwords changed: every session rekeys now under the passwords held now (the initiator
 * starts, the responder asks), and one whose rekey fails (the peer does not hold them) ends, so
 * a box whose password was changed cannot carry on with the old one.
 */
export function rekeyAll(ctx: ControlContext): void {
  const now = Date.now();
  for (const rec of ctx.peers.values()) {
    const s = rec.session;
    if (!s || s.closed) continue;
    const m = machineOf(ctx, rec, s);
    if (!m) continue;
    mustRenew.add(s);
    apply(ctx, rec, s, m.requestRekey(now));
  }
}

/** Asks for an early rekey of `rec`'s session (the sleeve's packet-count limit); false: none. */
export function requestRekey(ctx: ControlContext, rec: PeerRecord): boolean {
  const s = rec.session;
  if (!s || s.closed) return false;
  const m = machineOf(ctx, rec, s);
  if (!m) return false;
  apply(ctx, rec, s, m.requestRekey(Date.now()));
  return true;
}

function apply(ctx: ControlContext, rec: PeerRecord, s: Session, actions: RekeyAction[]): void {
  const peer = rec.endpoint.name;
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i];
    switch (a.type) {
      case "send":
        sendOn(ctx, rec, s, a.msg);
        break;
      case "control-tx":
        s.channel.replaceSendKey(a.key);
        break;
      case "control-rx":
        s.channel.expectRecvKey(a.key);
        break;
      case "ignored":
        ctx.drops.drop("garbage", peer, `rekey with ${peer}: ${a.reason}`, "info");
        break;
      case "aborted":
        ctx.log.info("rekey attempt given up", { peer, attempt: a.attempt, reason: a.reason });
        break;
      case "expire":
        endSession(ctx, rec, a.reason);
        return;
      case "failed": {
        // The peer is proven (the session is up): a mismatch here is the real peer's.
        const text = a.error instanceof HandshakeError && a.error.failure === "password"
          ? `password mismatch with peer ${peer} at ${rec.endpoint.address} (rekey)`
          : `rekey with ${peer}: ${a.error.message}`;
        ctx.drops.drop(a.error.reason === "refused" ? "garbage" : a.error.reason, peer, text);
        if (mustRenew.has(s)) {
          endSession(ctx, rec, `the passwords changed and the rekey failed: ${a.error.message}`);
          return;
        }
        break;
      }
      default: {
        if (a.type === "switch-tx") mustRenew.delete(s);
        const done = ctx.events.onSessionKeys?.({ peer, session: s.secrets.id, action: a });
        if (a.type === "install-rx" && done instanceof Promise) {
          // Make-before-break: what lets the peer send under the new keys (the next step, our
          // switch) waits until they are installed here; the new key of the peer's control
          // messages is accepted at once (its next frame may already be sealed with it).
          const rest = actions.slice(i + 1);
          apply(ctx, rec, s, rest.filter((x) => x.type === "control-rx"));
          const later = rest.filter((x) => x.type !== "control-rx");
          done.catch((e) =>
            ctx.log.error("datapath did not install rekeyed keys", { peer, error: String(e) })
          ).finally(() => {
            if (!s.closed && rec.session === s) apply(ctx, rec, s, later);
          });
          return;
        }
      }
    }
  }
}
