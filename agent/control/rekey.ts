/**
 * Periodic rekey of a live session (#14), make-before-break, as a pure state machine: messages
 * and clock ticks in, actions out; the caller carries the messages on the session's sealed
 * control channel and applies the actions to the channel and the datapaths.
 *
 * Each rekey is a complete v2 handshake (`handshake_core.ts`: CPace with the passwords the box
 * holds *now*, node-key proofs, fresh indices), with the previous keys' transcript hash and the
 * epoch as the transcript prefix, so every rekey is chained to the session it renews, a session
 * that started on the previous password moves to the current one as soon as both ends have it,
 * and a box whose password was changed cannot carry on with the old one.
 *
 * The initiator is the side that dialled the session (no collisions); the responder may ask
 * for a rekey (step 0, e.g. near a packet-count limit). Steps, as `{type: "rekey", step, epoch}`:
 *
 *   0  R → I  please rekey (optional)
 *   1  I → R  HELLO                         R: builds its shares
 *   2  R → I  HELLO ‖ SHARES                I: derives the new keys, but installs nothing yet
 *   3  I → R  SHARES ‖ CONFIRM              R: verifies; installs the new keys for receiving
 *                                              (old ones still accepted); sends 4, then seals
 *                                              control messages with the new R→I key
 *   4  R → I  CONFIRM (or AUTH_FAILED)      I: verifies; installs the new keys for receiving
 *                                              and sending (R accepts them already); opens
 *                                              R's control messages with the new key; sends 5,
 *                                              then seals with the new I→R key
 *   5  I → R  switch                        R: sends with the new keys (I accepts them since 4);
 *                                              opens I's control messages with the new key
 *
 * Both ends know when the other has installed: I at 4, R at 5. The old receive keys stay until
 * `oldKeysGraceMs` after the switch (packets in flight). Timers, one named function each:
 * `rekeyDue` (keys older than rekeyAfter: the initiator starts), `keysExpired` (older than
 * rejectAfter: the session must end; checked on both ends, so a peer that never rekeys is cut
 * off), `exchangeStalled` (an exchange not done in exchangeTimeout: abandoned, retried after as
 * long again), `oldKeysDue` (grace over: drop the old receive keys).
 *
 * @module
 */

import { lvCat } from "./cpace.ts";
import {
  type CoreOptions,
  type CoreResult,
  DialerHandshake,
  HandshakeError,
  ListenerHandshake,
  type PasswordSlot,
} from "./handshake_core.ts";
import { RecordKind } from "./handshake_wire.ts";
import type { SessionKeySet } from "./key_schedule.ts";
import { WireError } from "./wire_error.ts";

/** Timing of rekeys (weave.yaml `rekey_after`, `reject_after`). */
export interface RekeyOptions {
  /** Start a rekey once the keys are this old (default 120 000 ms). */
  rekeyAfterMs?: number;
  /** Keys older than this are refused: the session ends (default 180 000 ms). */
  rejectAfterMs?: number;
  /** An exchange not completed in this long is abandoned, then retried (default 10 000 ms). */
  exchangeTimeoutMs?: number;
  /** Old receive keys stay accepted this long after the switch (default 5 000 ms). */
  oldKeysGraceMs?: number;
}

/** Defaults in the spirit of WireGuard (REKEY_AFTER_TIME 120 s, REJECT_AFTER_TIME 180 s). */
export const REKEY_DEFAULTS: Required<RekeyOptions> = {
  rekeyAfterMs: 120_000,
  rejectAfterMs: 180_000,
  exchangeTimeoutMs: 10_000,
  oldKeysGraceMs: 5_000,
};

/** The options with defaults filled in; throws a RangeError naming the first bad one. */
export function resolveRekeyOptions(o: RekeyOptions): Required<RekeyOptions> {
  const r = { ...REKEY_DEFAULTS, ...o };
  for (const k of Object.keys(REKEY_DEFAULTS) as (keyof RekeyOptions)[]) {
    const v = r[k];
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`rekey: ${k} must be > 0, got ${v}`);
  }
  if (r.rejectAfterMs <= r.rekeyAfterMs) {
    throw new RangeError(
      `rekey: rejectAfterMs (${r.rejectAfterMs}) must exceed rekeyAfterMs (${r.rekeyAfterMs})`,
    );
  }
  return r;
}

/** A rekey message; `records` is base64 of handshake records. */
export interface RekeyMessage {
  type: "rekey";
  step: 0 | 1 | 2 | 3 | 4 | 5;
  epoch: number;
  records?: string;
  [k: string]: unknown;
}

/** A sealed control message as a rekey message, or null when it is not a well-formed one. */
export function parseRekeyMessage(
  msg: { type: string; [k: string]: unknown },
): RekeyMessage | null {
  const { step, epoch, records } = msg;
  if (msg.type !== "rekey" || typeof epoch !== "number" || !Number.isInteger(epoch)) return null;
  if (step !== 0 && step !== 1 && step !== 2 && step !== 3 && step !== 4 && step !== 5) return null;
  if (records !== undefined && typeof records !== "string") return null;
  return records === undefined
    ? { type: "rekey", step, epoch }
    : { type: "rekey", step, epoch, records };
}

/** What the caller does. */
export type RekeyAction =
  | { type: "send"; msg: RekeyMessage }
  /** Accept packets under `keys` too (the old ones stay accepted). */
  | { type: "install-rx"; epoch: number; keys: SessionKeySet; password: PasswordSlot }
  /** Send datapath packets under the new keys from now on. */
  | { type: "switch-tx"; epoch: number }
  /** Seal control messages with the new key of our direction, after the preceding send. */
  | { type: "control-tx"; epoch: number; key: Uint8Array }
  /** Open the peer's control messages with the new key of its direction from the next one. */
  | { type: "control-rx"; epoch: number; key: Uint8Array }
  /** The keys of `epoch - 1` are no longer needed for receiving: remove and wipe them. */
  | { type: "drop-old"; epoch: number }
  /** An exchange gave up after installing receive keys for `epoch`: remove them. */
  | { type: "abandon"; epoch: number; reason: string }
  /** The keys are older than rejectAfter: end the session. */
  | { type: "expire"; reason: string }
  /** The peer failed the exchange (password or key mismatch, garbage): log it. */
  | { type: "failed"; error: WireError };

/** Who starts rekeys. */
export type RekeyRole = "initiator" | "responder";

/** How the machine is set up for one session. */
export interface RekeyMachineOptions extends RekeyOptions {
  role: RekeyRole;
  peerName: string;
  /** Transcript hash of the session's current keys (the handshake's). */
  transcriptHash: Uint8Array;
  /** When the current keys were made (ms, same clock as `now`). */
  establishedAt: number;
  /** The passwords, node keys and names as they are now; called for every exchange. */
  coreOptions: () => CoreOptions;
}

type Exchange =
  | { step: 1; epoch: number; startedAt: number; core: DialerHandshake }
  | { step: 2; epoch: number; startedAt: number; core: ListenerHandshake }
  | { step: 3; epoch: number; startedAt: number; core: DialerHandshake }
  | { step: 4; epoch: number; startedAt: number; result: CoreResult };

/** The transcript prefix of a rekey: lv_cat(label, previous transcript hash, u32 epoch). */
export function rekeyPrefix(previousTranscript: Uint8Array, epoch: number): Uint8Array {
  const e = new Uint8Array(4);
  new DataView(e.buffer).setUint32(0, epoch >>> 0);
  return lvCat(new TextEncoder().encode("weave-agent v2 rekey"), previousTranscript, e);
}

/** The rekey state machine of one session (see the module doc). */
export class RekeyMachine {
  readonly #o: Required<RekeyOptions> & RekeyMachineOptions;
  #epoch = 0;
  #th: Uint8Array;
  #keysAt: number;
  #password: PasswordSlot | null = null;
  #ex: Exchange | null = null;
  #retryAt = 0;
  #dropOldAt: { at: number; epoch: number } | null = null;
  #rekeys = 0;
  #expired = false;

  constructor(o: RekeyMachineOptions) {
    this.#o = { ...resolveRekeyOptions(o), ...o };
    this.#th = o.transcriptHash;
    this.#keysAt = o.establishedAt;
  }

  /** Epoch of the keys in use (0: the handshake's). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Completed rekeys. */
  get rekeys(): number {
    return this.#rekeys;
  }

  /** Which password the last rekey used (null: none yet; the handshake's result says). */
  get password(): PasswordSlot | null {
    return this.#password;
  }

  /** Age of the keys in use. */
  keyAgeMs(now: number): number {
    return now - this.#keysAt;
  }

  /** Clock tick: runs every timer that is due. */
  tick(now: number): RekeyAction[] {
    if (this.#expired) return [];
    const out: RekeyAction[] = [];
    if (this.#keysExpired(now, out)) return out;
    this.#exchangeStalled(now, out);
    this.#oldKeysDue(now, out);
    this.#rekeyDue(now, out);
    return out;
  }

  /** Asks for an early rekey (packet-count limit): the initiator starts, the responder asks. */
  requestRekey(now: number): RekeyAction[] {
    if (this.#expired || this.#ex) return [];
    if (this.#o.role === "initiator") return this.#start(now);
    return [{ type: "send", msg: { type: "rekey", step: 0, epoch: this.#epoch + 1 } }];
  }

  /** A rekey message from the peer. Garbage ends in a "failed" action (end the session). */
  receive(msg: RekeyMessage, now: number): RekeyAction[] {
    if (this.#expired) return [];
    try {
      return this.#receive(msg, now);
    } catch (e) {
      const error = e instanceof WireError ? e : new WireError("garbage", `rekey: ${String(e)}`);
      this.#retryAt = now + this.#o.exchangeTimeoutMs;
      return [...this.#abandon(error.message), { type: "failed", error }];
    }
  }

  #receive(msg: RekeyMessage, now: number): RekeyAction[] {
    const next = this.#epoch + 1;
    if (msg.epoch !== next) {
      throw new WireError(
        "garbage",
        `rekey step ${msg.step} for epoch ${msg.epoch}, expected ${next}`,
      );
    }
    const ex = this.#ex;
    const role = this.#o.role;
    switch (msg.step) {
      case 0:
        if (role !== "initiator") throw unexpected(msg);
        return ex ? [] : this.#start(now);
      case 1: {
        if (role !== "responder") throw unexpected(msg);
        const out = ex ? this.#abandon("the initiator started over") : [];
        const core = new ListenerHandshake(this.#o.coreOptions());
        const [hello] = records(msg, 1);
        if (core.hello(hello.body).name !== this.#o.peerName) {
          throw new WireError("garbage", "rekey HELLO names another peer");
        }
        const refusal = core.keyRefusal();
        if (refusal) throw refusal;
        const reply = core.reply(rekeyPrefix(this.#th, next));
        this.#ex = { step: 2, epoch: next, startedAt: now, core };
        return [...out, this.#send(2, reply)];
      }
      case 2: {
        if (ex?.step !== 1) throw unexpected(msg);
        const [hello, shares] = records(msg, 2);
        const third = ex.core.reply(hello.body, shares.body, rekeyPrefix(this.#th, next));
        this.#ex = { step: 3, epoch: next, startedAt: ex.startedAt, core: ex.core };
        return [this.#send(3, third)];
      }
      case 3: {
        if (ex?.step !== 2) throw unexpected(msg);
        const [shares, confirm] = records(msg, 2);
        const outcome = ex.core.confirm(shares.body, confirm.body);
        if (!outcome.ok) {
          this.#ex = null;
          return [this.#send(4, outcome.reply), { type: "failed", error: outcome.error }];
        }
        const r = outcome.result;
        r.sessionKey.fill(0); // the per-purpose keys are derived: the session key goes
        this.#ex = { step: 4, epoch: next, startedAt: ex.startedAt, result: r };
        return [
          { type: "install-rx", epoch: next, keys: r.keys, password: r.password },
          this.#send(4, outcome.reply),
          { type: "control-tx", epoch: next, key: r.keys.listenerToDialer.control },
        ];
      }
      case 4: {
        if (ex?.step !== 3) throw unexpected(msg);
        const [rec] = records(msg, 1);
        if (rec.kind === RecordKind.AUTH_FAILED) throw ex.core.authFailed(rec.body);
        if (rec.kind !== RecordKind.CONFIRM) throw unexpected(msg);
        const r = ex.core.confirm(rec.body);
        r.sessionKey.fill(0);
        this.#installed(r, now);
        return [
          { type: "install-rx", epoch: next, keys: r.keys, password: r.password },
          { type: "switch-tx", epoch: next },
          { type: "control-rx", epoch: next, key: r.keys.listenerToDialer.control },
          { type: "send", msg: { type: "rekey", step: 5, epoch: next } },
          { type: "control-tx", epoch: next, key: r.keys.dialerToListener.control },
        ];
      }
      case 5: {
        if (ex?.step !== 4) throw unexpected(msg);
        this.#installed(ex.result, now);
        return [
          { type: "switch-tx", epoch: next },
          { type: "control-rx", epoch: next, key: ex.result.keys.dialerToListener.control },
        ];
      }
      default:
        throw unexpected(msg);
    }
  }

  #installed(r: CoreResult, now: number): void {
    this.#epoch = this.#epoch + 1;
    this.#th = r.transcriptHash;
    this.#keysAt = now;
    this.#password = r.password;
    this.#rekeys++;
    this.#ex = null;
    this.#dropOldAt = { at: now + this.#o.oldKeysGraceMs, epoch: this.#epoch };
  }

  #start(now: number): RekeyAction[] {
    const next = this.#epoch + 1;
    const core = new DialerHandshake({ ...this.#o.coreOptions(), expectedPeer: this.#o.peerName });
    this.#ex = { step: 1, epoch: next, startedAt: now, core };
    return [this.#send(1, core.hello)];
  }

  #send(step: RekeyMessage["step"], recordBytes: Uint8Array): RekeyAction {
    return {
      type: "send",
      msg: { type: "rekey", step, epoch: this.#epoch + 1, records: toBase64(recordBytes) },
    };
  }

  #abandon(reason: string): RekeyAction[] {
    const ex = this.#ex;
    this.#ex = null;
    if (ex?.step === 4) return [{ type: "abandon", epoch: ex.epoch, reason }];
    return [];
  }

  /** Keys older than rejectAfter: the session must end. */
  #keysExpired(now: number, out: RekeyAction[]): boolean {
    const age = now - this.#keysAt;
    if (age < this.#o.rejectAfterMs) return false;
    this.#expired = true;
    out.push(...this.#abandon("keys expired"));
    out.push({
      type: "expire",
      reason: `session keys are ${Math.round(age / 1000)} s old (reject_after ${
        Math.round(this.#o.rejectAfterMs / 1000)
      } s) and no rekey completed`,
    });
    return true;
  }

  /** An exchange that has not completed in time is abandoned; the next try waits as long. */
  #exchangeStalled(now: number, out: RekeyAction[]): void {
    const ex = this.#ex;
    if (!ex || now - ex.startedAt < this.#o.exchangeTimeoutMs) return;
    out.push(...this.#abandon(`rekey step ${ex.step} got no answer in ${now - ex.startedAt} ms`));
    this.#retryAt = now + this.#o.exchangeTimeoutMs;
  }

  /** The grace after a switch is over: the old receive keys go. */
  #oldKeysDue(now: number, out: RekeyAction[]): void {
    if (!this.#dropOldAt || now < this.#dropOldAt.at) return;
    out.push({ type: "drop-old", epoch: this.#dropOldAt.epoch });
    this.#dropOldAt = null;
  }

  /** The initiator starts a rekey once the keys are rekeyAfter old. */
  #rekeyDue(now: number, out: RekeyAction[]): void {
    if (this.#o.role !== "initiator" || this.#ex || now < this.#retryAt) return;
    if (now - this.#keysAt < this.#o.rekeyAfterMs) return;
    out.push(...this.#start(now));
  }
}

function unexpected(msg: RekeyMessage): WireError {
  return new WireError("garbage", `unexpected rekey step ${msg.step}`);
}

/** The handshake records a rekey message carries, exactly `n` of them. */
function records(msg: RekeyMessage, n: number): { kind: number; body: Uint8Array }[] {
  if (typeof msg.records !== "string") {
    throw new WireError("garbage", "rekey message without records");
  }
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(msg.records), (c) => c.charCodeAt(0));
  } catch {
    throw new WireError("garbage", "rekey records are not base64");
  }
  const out: { kind: number; body: Uint8Array }[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (bytes.length - off < 3) throw new WireError("garbage", "truncated rekey record");
    const len = (bytes[off + 1] << 8) | bytes[off + 2];
    if (off + 3 + len > bytes.length) throw new WireError("garbage", "truncated rekey record");
    out.push({ kind: bytes[off], body: bytes.slice(off + 3, off + 3 + len) });
    off += 3 + len;
  }
  if (out.length !== n) {
    throw new WireError("garbage", `rekey step ${msg.step}: ${out.length} records`);
  }
  return out;
}

function toBase64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

/** Whether a failure of a rekey was a real password or key mismatch (vs garbage). */
export function isAuthFailure(e: WireError): e is HandshakeError {
  return e instanceof HandshakeError;
}
