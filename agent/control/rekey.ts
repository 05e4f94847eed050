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
 * for a rekey (step 0, e.g. near a packet-count limit). Messages are
 * `{type: "rekey", step, epoch, attempt, records?, reason?}` (protocol version 3); `attempt`
 * numbers the initiator's tries, strictly increasing over the session:
 *
 *   0  R → I  please rekey (optional; no attempt)
 *   1  I → R  HELLO                         R: builds its shares
 *   2  R → I  HELLO ‖ SHARES                I: derives the new keys, installs nothing
 *   3  I → R  SHARES ‖ CONFIRM              R: verifies, then COMMITS: installs the new keys
 *                                              for receiving (old ones still accepted), sends
 *                                              4, seals control messages with its new key
 *   4  R → I  CONFIRM (or AUTH_FAILED)      I: verifies; installs the new keys for receiving
 *                                              and sending (R accepts them since 3); sends 5,
 *                                              then seals with its new key
 *   5  I → R  switch                        R: sends with the new keys (I accepts them since 4)
 *   6  R → I  switched                      I: R no longer sends under the old keys
 *   7  either abort (attempt, reason)       the other end forgets that attempt
 *
 * Why the two ends always agree on which keys are live (the control channel is reliable and in
 * order, so the only way to disagree is an end deciding on its own, e.g. at a timeout):
 * - An end gives up an attempt only where nothing is installed yet (I waiting for 2, R waiting
 *   for 3), and it says so (7). Once R has verified 3 it is committed and never gives up; once
 *   I has sent 3 the outcome is R's (4 or 7) and I waits for it. Neither committed wait has a
 *   deadline of its own: `keysExpired` ends the session if it never comes.
 * - Every message names its attempt; one of an attempt given up, of another epoch, or out of
 *   step is ignored and counted (an "ignored" action), never acted on, so a late, replayed,
 *   duplicated or reordered message cannot move either end.
 * - The control channel's new receive key is an extra key (`control-rx`): the old one stays
 *   until the peer's first message under the new one (`SecureChannel.expectRecvKey`).
 * - Old datapath receive keys go `oldKeysGraceMs` after the peer is known to send under the
 *   new ones: R at 5 (I switched before sending it), I at 6.
 *
 * Timers, one named function each: `rekeyDue` (keys older than rekeyAfter: the initiator
 * starts, however busy the box is), `keysExpired` (older than
 * rejectAfter: the session must end; checked on both ends, so a peer that never rekeys is cut
 * off), `exchangeStalled` (an uncommitted attempt not answered in exchangeTimeout, stretched
 * while the box lags: aborted, retried after as long again), `oldKeysDue` (grace over: drop the
 * old receive keys).
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
import { type SessionKeySet, wipeDatapathKeys } from "./key_schedule.ts";
import { WireError } from "./wire_error.ts";

/** Timing of rekeys (weave.yaml `rekey_after`, `reject_after`). */
export interface RekeyOptions {
  /** Start a rekey once the keys are this old (default 120 000 ms). */
  rekeyAfterMs?: number;
  /** Keys older than this are refused: the session ends (default 180 000 ms). */
  rejectAfterMs?: number;
  /** An uncommitted attempt unanswered this long is aborted, then retried (default 10 000 ms). */
  exchangeTimeoutMs?: number;
  /** Old receive keys stay accepted this long after the peer's switch (default 5 000 ms). */
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

/** Steps of the exchange (see the module doc). */
export type RekeyStep = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;
/** The step that aborts an attempt. */
export const REKEY_ABORT = 7;
/** Longest abort reason carried. */
export const MAX_ABORT_REASON = 200;

/** A rekey message; `records` is base64 of handshake records. */
export interface RekeyMessage {
  type: "rekey";
  step: RekeyStep;
  epoch: number;
  /** The initiator's try; absent only in step 0. */
  attempt?: number;
  records?: string;
  /** Why an attempt was aborted (step 7). */
  reason?: string;
  [k: string]: unknown;
}

const isCount = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** A sealed control message as a rekey message, or null when it is not a well-formed one. */
export function parseRekeyMessage(
  msg: { type: string; [k: string]: unknown },
): RekeyMessage | null {
  const { step, epoch, attempt, records, reason } = msg;
  if (msg.type !== "rekey" || !isCount(epoch)) return null;
  if (typeof step !== "number" || !Number.isInteger(step) || step < 0 || step > 7) return null;
  if (step === 0 ? attempt !== undefined : !isCount(attempt)) return null;
  if (records !== undefined && typeof records !== "string") return null;
  if (reason !== undefined && (typeof reason !== "string" || reason.length > MAX_ABORT_REASON)) {
    return null;
  }
  const out: RekeyMessage = { type: "rekey", step: step as RekeyStep, epoch };
  if (attempt !== undefined) out.attempt = attempt as number;
  if (records !== undefined) out.records = records;
  if (reason !== undefined) out.reason = reason;
  return out;
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
  /** Accept the peer's control messages under the new key of its direction too, from now on. */
  | { type: "control-rx"; epoch: number; key: Uint8Array }
  /** The keys of `epoch - 1` are no longer needed for receiving: remove and wipe them. */
  | { type: "drop-old"; epoch: number }
  /** End the session: keys older than rejectAfter, or a committed exchange that cannot finish. */
  | { type: "expire"; reason: string }
  /** The peer failed the exchange (password or key mismatch, garbage): log it. */
  | { type: "failed"; error: WireError }
  /** An attempt was given up before anything was installed (the peer's or our abort). */
  | { type: "aborted"; attempt: number; reason: string }
  /** A message that fits no attempt in progress (late, replayed, reordered): counted only. */
  | { type: "ignored"; reason: string };

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
  /**
   * How much the exchange deadline grows now (default: never): the connection manager's
   * stretch for this box's loop lag (options.ts `lagStretchMs`). A starved box that aborts an
   * exchange only slow to be answered throws the work away and retries into the same load.
   */
  stretchMs?: () => number;
}

/** An attempt in progress, by the last step this end sent. */
type Exchange =
  /** I sent 1; abortable. */
  | { step: 1; attempt: number; startedAt: number; core: DialerHandshake }
  /** R sent 2; abortable. */
  | { step: 2; attempt: number; startedAt: number; core: ListenerHandshake }
  /** I sent 3; R decides. */
  | { step: 3; attempt: number; startedAt: number; core: DialerHandshake }
  /** R committed and sent 4; waits for 5. */
  | { step: 4; attempt: number; startedAt: number; result: CoreResult }
  /** I switched and sent 5; waits for 6 to know R no longer sends under the old keys. */
  | { step: 5; attempt: number; startedAt: number; keys: SessionKeySet };

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
  /** I: the last attempt started; R: the last attempt whose step 1 it took. */
  #attempt = 0;
  #retryAt = 0;
  #dropOldAt: { at: number; epoch: number } | null = null;
  #rekeys = 0;
  #ignored = 0;
  #expired = false;
  /** An early rekey was asked for while an exchange ran: it starts once that one is done. */
  #requested = false;

  constructor(o: RekeyMachineOptions) {
    this.#o = { ...resolveRekeyOptions(o), ...o };
    this.#th = o.transcriptHash;
    this.#keysAt = o.establishedAt;
  }

  /** Epoch of the keys this end sends under (0: the handshake's). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Completed rekeys. */
  get rekeys(): number {
    return this.#rekeys;
  }

  /** Messages ignored because they fit no attempt in progress. */
  get ignored(): number {
    return this.#ignored;
  }

  /** The step this end last sent in the attempt in progress (null: none). */
  get pendingStep(): number | null {
    return this.#ex?.step ?? null;
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
    out.push(...this.#requestedDue(now));
    return out;
  }

  /**
   * Asks for an early rekey (packet-count limit, new passwords): the initiator starts, the
   * responder asks; while an exchange runs, the request waits for it to end (a rekey that
   * started before new passwords must not count as the one made under them).
   */
  requestRekey(now: number): RekeyAction[] {
    if (this.#expired) return [];
    if (this.#ex) {
      this.#requested = true;
      return [];
    }
    this.#requested = false;
    if (this.#o.role === "initiator") return this.#start(now);
    return [{ type: "send", msg: { type: "rekey", step: 0, epoch: this.#epoch + 1 } }];
  }

  /** A request that waited for an exchange: due once none runs. */
  #requestedDue(now: number): RekeyAction[] {
    return this.#requested && !this.#ex && !this.#expired ? this.requestRekey(now) : [];
  }

  /** A rekey message from the peer. Never throws; bad records end in "failed" and an abort. */
  receive(msg: RekeyMessage, now: number): RekeyAction[] {
    if (this.#expired) return [];
    const why = this.#misfit(msg);
    if (why) {
      this.#ignored++;
      return [{ type: "ignored", reason: `rekey step ${msg.step} ${why}` }];
    }
    const ex = this.#ex;
    let out: RekeyAction[];
    try {
      out = this.#receive(msg, now);
    } catch (e) {
      const error = e instanceof WireError ? e : new WireError("garbage", `rekey: ${String(e)}`);
      out = this.#failedStep(msg, ex, error, now);
    }
    return [...out, ...this.#requestedDue(now)];
  }

  /** Why `msg` fits no attempt in progress (null: it is the next step of one). */
  #misfit(msg: RekeyMessage): string | null {
    const role = this.#o.role, ex = this.#ex, next = this.#epoch + 1;
    const at = `(epoch ${msg.epoch}, attempt ${msg.attempt ?? "-"})`;
    // Step 6 comes after I moved to the new epoch; every other step is for the next one.
    const epoch = msg.step === 6 ? this.#epoch : next;
    if (msg.epoch !== epoch) return `${at}: not epoch ${epoch}`;
    const mine = role === "initiator" ? [0, 2, 4, 6, 7] : [1, 3, 5, 7];
    if (!mine.includes(msg.step)) return `${at}: not one a ${role} takes`;
    if (msg.step === 0) return null; // a request: harmless at any time
    if (msg.step === 1) {
      if (msg.attempt! <= this.#attempt) return `${at}: attempt is not new`;
      // A newer attempt implies the initiator gave up ours, which it can only do before we
      // commit; once committed, a new one cannot be genuine.
      return ex?.step === 4 ? `${at}: attempt ${ex.attempt} is committed` : null;
    }
    if (!ex || ex.attempt !== msg.attempt) return `${at}: no such attempt in progress`;
    if (msg.step === REKEY_ABORT) {
      return ex.step === 4 || ex.step === 5 ? `${at}: the exchange is committed` : null;
    }
    const expected: Record<number, number> = { 2: 1, 3: 2, 4: 3, 5: 4, 6: 5 };
    return ex.step === expected[msg.step] ? null : `${at}: out of step (sent ${ex.step})`;
  }

  #receive(msg: RekeyMessage, now: number): RekeyAction[] {
    const next = this.#epoch + 1;
    const ex = this.#ex;
    switch (msg.step) {
      case 0:
        return ex ? [] : this.#start(now);
      case 1: {
        this.#forget(); // an uncommitted older attempt (its abort may be on its way)
        this.#attempt = msg.attempt!;
        const core = new ListenerHandshake(this.#o.coreOptions());
        const [hello] = records(msg, 1);
        if (core.hello(hello.body).name !== this.#o.peerName) {
          throw new WireError("garbage", "rekey HELLO names another peer");
        }
        const refusal = core.keyRefusal();
        if (refusal) throw refusal;
        const reply = core.reply(rekeyPrefix(this.#th, next));
        this.#ex = { step: 2, attempt: msg.attempt!, startedAt: now, core };
        return [this.#send(2, msg.attempt!, reply)];
      }
      case 2: {
        if (ex?.step !== 1) throw new Error("unreachable: step 2 without attempt");
        const [hello, shares] = records(msg, 2);
        const third = ex.core.reply(hello.body, shares.body, rekeyPrefix(this.#th, next));
        this.#ex = { step: 3, attempt: ex.attempt, startedAt: ex.startedAt, core: ex.core };
        return [this.#send(3, ex.attempt, third)];
      }
      case 3:
        return this.#commit(msg);
      case 4:
        return this.#confirmed(msg, now);
      case 5: {
        if (ex?.step !== 4) throw new Error("unreachable: step 5 without commit");
        this.#installed(ex.result, now);
        this.#dropOldAt = { at: now + this.#o.oldKeysGraceMs, epoch: this.#epoch };
        // The datapaths took their copies at install-rx (step 3): ours go.
        wipeDatapathKeys(ex.result.keys);
        return [{ type: "switch-tx", epoch: next }, this.#send(6, ex.attempt)];
      }
      case 6:
        if (ex?.step === 5) wipeDatapathKeys(ex.keys); // copied at install-rx (step 4)
        this.#ex = null;
        this.#dropOldAt = { at: now + this.#o.oldKeysGraceMs, epoch: this.#epoch };
        return [];
      case REKEY_ABORT: {
        const reason = typeof msg.reason === "string" ? msg.reason : "no reason given";
        this.#forget();
        if (this.#o.role === "initiator") this.#retryAt = now + this.#exchangeTimeoutMs();
        return [{ type: "aborted", attempt: msg.attempt!, reason: `by the peer: ${reason}` }];
      }
    }
  }

  /** R, step 3 in: verify; on success commit (install, send 4, switch the control key). */
  #commit(msg: RekeyMessage): RekeyAction[] {
    const ex = this.#ex;
    if (ex?.step !== 2) throw new Error("unreachable: step 3 without attempt");
    const next = this.#epoch + 1;
    const [shares, confirm] = records(msg, 2);
    const outcome = ex.core.confirm(shares.body, confirm.body);
    if (!outcome.ok) {
      this.#forget();
      return [this.#send(4, ex.attempt, outcome.reply), { type: "failed", error: outcome.error }];
    }
    const r = outcome.result;
    r.sessionKey.fill(0); // the per-purpose keys are derived: the session key goes
    this.#ex = { step: 4, attempt: ex.attempt, startedAt: ex.startedAt, result: r };
    return [
      { type: "install-rx", epoch: next, keys: r.keys, password: r.password },
      { type: "control-rx", epoch: next, key: r.keys.dialerToListener.control },
      this.#send(4, ex.attempt, outcome.reply),
      { type: "control-tx", epoch: next, key: r.keys.listenerToDialer.control },
    ];
  }

  /** I, step 4 in: R's verdict. A CONFIRM that does not verify leaves R committed alone. */
  #confirmed(msg: RekeyMessage, now: number): RekeyAction[] {
    const ex = this.#ex;
    if (ex?.step !== 3) throw new Error("unreachable: step 4 without attempt");
    const next = this.#epoch + 1;
    let rec: { kind: number; body: Uint8Array };
    let r: CoreResult;
    try {
      [rec] = records(msg, 1);
      if (rec.kind === RecordKind.AUTH_FAILED || rec.kind === RecordKind.REFUSE) {
        // R did not commit: nothing is installed anywhere; retry later.
        this.#forget();
        this.#retryAt = now + this.#exchangeTimeoutMs();
        const error = rec.kind === RecordKind.AUTH_FAILED
          ? ex.core.authFailed(rec.body)
          : new WireError("garbage", `rekey refused by ${this.#o.peerName}: ${refusal(rec.body)}`);
        return [{ type: "failed", error }];
      }
      if (rec.kind !== RecordKind.CONFIRM) throw new WireError("garbage", "rekey step 4 record");
      r = ex.core.confirm(rec.body);
    } catch (e) {
      // R may have committed to keys this end cannot follow: only ending the session is safe.
      this.#expired = true;
      this.#forget();
      const error = e instanceof WireError ? e : new WireError("garbage", String(e));
      return [{ type: "failed", error }, {
        type: "expire",
        reason: `rekey step 4 from ${this.#o.peerName} did not verify: ${error.message}`,
      }];
    }
    r.sessionKey.fill(0);
    this.#installed(r, now);
    this.#ex = { step: 5, attempt: ex.attempt, startedAt: ex.startedAt, keys: r.keys };
    return [
      { type: "install-rx", epoch: next, keys: r.keys, password: r.password },
      { type: "control-rx", epoch: next, key: r.keys.listenerToDialer.control },
      { type: "switch-tx", epoch: next },
      this.#send(5, ex.attempt),
      { type: "control-tx", epoch: next, key: r.keys.dialerToListener.control },
    ];
  }

  /** A step that failed to process: abort the attempt (told to the peer) if it was ours. */
  #failedStep(
    msg: RekeyMessage,
    ex: Exchange | null,
    error: WireError,
    now: number,
  ): RekeyAction[] {
    const out: RekeyAction[] = [];
    if (msg.step === 1 || ex?.step === 1 || ex?.step === 2) {
      const attempt = msg.step === 1 ? msg.attempt! : ex!.attempt;
      this.#forget();
      out.push(this.#abortMsg(attempt, error.message));
    }
    if (this.#o.role === "initiator") this.#retryAt = now + this.#exchangeTimeoutMs();
    out.push({ type: "failed", error });
    return out;
  }

  #installed(r: CoreResult, now: number): void {
    this.#epoch = this.#epoch + 1;
    this.#th = r.transcriptHash;
    this.#keysAt = now;
    this.#password = r.password;
    this.#rekeys++;
    this.#ex = null;
  }

  #start(now: number): RekeyAction[] {
    const core = new DialerHandshake({ ...this.#o.coreOptions(), expectedPeer: this.#o.peerName });
    this.#attempt++;
    this.#ex = { step: 1, attempt: this.#attempt, startedAt: now, core };
    return [this.#send(1, this.#attempt, core.hello)];
  }

  /** A message of attempt `attempt` (steps 5 and 6: sent once switched, of the new epoch). */
  #send(step: 1 | 2 | 3 | 4 | 5 | 6, attempt: number, recordBytes?: Uint8Array): RekeyAction {
    const epoch = step >= 5 ? this.#epoch : this.#epoch + 1;
    const msg: RekeyMessage = { type: "rekey", step, epoch, attempt };
    if (recordBytes) msg.records = toBase64(recordBytes);
    return { type: "send", msg };
  }

  #abortMsg(attempt: number, reason: string): RekeyAction {
    return {
      type: "send",
      msg: {
        type: "rekey",
        step: REKEY_ABORT,
        epoch: this.#epoch + 1,
        attempt,
        reason: reason.slice(0, MAX_ABORT_REASON),
      },
    };
  }

  /** Drops an uncommitted attempt (nothing of it was installed); wipes its secrets. */
  #forget(): void {
    const ex = this.#ex;
    if (ex && "core" in ex) ex.core.discard();
    this.#ex = null;
  }

  /** Keys older than rejectAfter: the session must end. */
  #keysExpired(now: number, out: RekeyAction[]): boolean {
    const age = now - this.#keysAt;
    if (age < this.#o.rejectAfterMs) return false;
    this.#expired = true;
    this.#forget();
    out.push({
      type: "expire",
      reason: `session keys are ${Math.round(age / 1000)} s old (reject_after ${
        Math.round(this.#o.rejectAfterMs / 1000)
      } s) and no rekey completed`,
    });
    return true;
  }

  /** An uncommitted attempt unanswered in time is aborted (told to the peer); retried later. */
  #exchangeStalled(now: number, out: RekeyAction[]): void {
    const ex = this.#ex;
    if (!ex || (ex.step !== 1 && ex.step !== 2)) return;
    if (now - ex.startedAt < this.#exchangeTimeoutMs()) return;
    this.#forget();
    const reason = `step ${ex.step} got no answer in ${now - ex.startedAt} ms`;
    out.push(this.#abortMsg(ex.attempt, reason), { type: "aborted", attempt: ex.attempt, reason });
    if (this.#o.role === "initiator") this.#retryAt = now + this.#exchangeTimeoutMs();
  }

  /** The exchange deadline now, and the wait before a retry: stretched while this box lags. */
  #exchangeTimeoutMs(): number {
    return this.#o.exchangeTimeoutMs + (this.#o.stretchMs?.() ?? 0);
  }

  /** The grace after the peer's switch is over: the old receive keys go. */
  #oldKeysDue(now: number, out: RekeyAction[]): void {
    if (!this.#dropOldAt || now < this.#dropOldAt.at) return;
    out.push({ type: "drop-old", epoch: this.#dropOldAt.epoch });
    this.#dropOldAt = null;
  }

  /**
   * The initiator starts a rekey once the keys are rekeyAfter old, however busy the box is. A
   * starved box once waited, up to halfway to rejectAfter, to save a handshake's worth of work;
   * but its exchange deadline is stretched by the same lag (seconds, on such a box), so the 30 s
   * left were one attempt or less, and a session whose rekey did not finish ended at
   * rejectAfter and was made again with a full handshake, its teardown and its gossip: more
   * work than the rekey saved. Measured with 100 agents on 2 vCPUs, runs alternating: 2,527 and
   * 4,118 such session ends (counted at both ends) with the wait, neither run converged in 240 s;
   * 57 and 0 without it, one run converged in 155 s.
   */
  #rekeyDue(now: number, out: RekeyAction[]): void {
    if (this.#o.role !== "initiator" || this.#ex || now < this.#retryAt) return;
    if (now - this.#keysAt < this.#o.rekeyAfterMs) return;
    out.push(...this.#start(now));
  }
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

/** The text of a REFUSE record, printable and bounded. */
function refusal(body: Uint8Array): string {
  return new TextDecoder().decode(body).replace(/[^\x20-\x7e]/g, "?").slice(0, MAX_ABORT_REASON);
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
