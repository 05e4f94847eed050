/**
 * The sessions of one peer, as the packet path keeps them: make-before-break rekeying.
 *
 * A peer has at most one session it sends under (`sending`) and a few it accepts datagrams
 * under (`receivable`, which includes `sending`): during a switch both the previous and the
 * new session are accepted, so nothing in flight is lost. The control plane installs a new
 * session (receive-only), tells the sender to move once both ends have it, and retires the old
 * one when its datagrams can no longer be in flight.
 *
 * A session is identified by its local receiver index (what peers put in the header) and by a
 * fingerprint of its keys. Its send sequence and replay window live as long as its keys: an
 * update that only brings a new remote index keeps them (a sequence number is never used twice
 * under one key), and keys once retired are never accepted again.
 *
 * Limits per key, from the AEAD (constants.ts): past `rekeyAfter` the main thread is told a
 * rekey is due (once); past `rejectAfter` nothing more is sealed under the key (counted, and the
 * main thread told once), well before any nonce could repeat.
 *
 * Pure bookkeeping (no FFI): unit-tested beside it.
 *
 * @module
 */

import type { Aead, AeadName } from "../aead.ts";
import { ReplayWindow } from "../replay_window.ts";
import type { SessionLimits, WorkerSession } from "./messages.ts";
import {
  AES_GCM_REJECT_AFTER_BYTES,
  AES_GCM_REKEY_AFTER_BYTES,
  MAX_SESSIONS_PER_PEER,
  REJECT_AFTER_PACKETS,
  REKEY_AFTER_PACKETS,
  RETIRED_KEYS_REMEMBERED,
} from "./constants.ts";

/**
 * The limits of a key under `aead`; `lower` may lower any of them (tests, cautious operators),
 * never raise them.
 */
export function sessionLimits(aead: AeadName, lower: Partial<SessionLimits> = {}): SessionLimits {
  const bytes = aead === "aes-256-gcm" ? AES_GCM_REJECT_AFTER_BYTES : Infinity;
  const rekeyBytes = aead === "aes-256-gcm" ? AES_GCM_REKEY_AFTER_BYTES : Infinity;
  return {
    rekeyAfterPackets: Math.min(REKEY_AFTER_PACKETS, lower.rekeyAfterPackets ?? Infinity),
    rejectAfterPackets: Math.min(REJECT_AFTER_PACKETS, lower.rejectAfterPackets ?? Infinity),
    rekeyAfterBytes: Math.min(rekeyBytes, lower.rekeyAfterBytes ?? Infinity),
    rejectAfterBytes: Math.min(bytes, lower.rejectAfterBytes ?? Infinity),
  };
}

/** A session in the worker. */
export interface SessionRuntime {
  readonly fingerprint: string;
  readonly localIndex: number;
  /** The peer's receiver index for it (may change: the keys stay). */
  remoteIndex: number;
  readonly txDirection: 0 | 1;
  readonly txAead: Aead;
  readonly rxAead: Aead;
  /** Last sequence number sealed (the next is txSeq + 1). */
  txSeq: number;
  /** Plaintext bytes sealed under the key. */
  txBytes: number;
  readonly window: ReplayWindow;
  readonly limits: SessionLimits;
  /** What the main thread was told already (each once). */
  rekeyDueSent: boolean;
  exhaustedSent: boolean;
}

/** What the send side may do with the sending session's next packet. */
export const SEND_OK = 0;
/** Sealed, and the main thread must hear that a rekey is due (first time only). */
export const SEND_REKEY_DUE = 1;
/** Not sealed: the key has reached its hard limit. */
export const SEND_REFUSED = 2;

/**
 * Accounts one more packet of `len` bytes under `s` and says whether it may be sealed. The
 * caller seals with sequence number `s.txSeq` after SEND_OK or SEND_REKEY_DUE.
 */
export function admitSend(s: SessionRuntime, len: number): number {
  const l = s.limits;
  if (s.txSeq >= l.rejectAfterPackets || s.txBytes + len > l.rejectAfterBytes) return SEND_REFUSED;
  s.txSeq++;
  s.txBytes += len;
  if (!s.rekeyDueSent && (s.txSeq >= l.rekeyAfterPackets || s.txBytes >= l.rekeyAfterBytes)) {
    s.rekeyDueSent = true;
    return SEND_REKEY_DUE;
  }
  return SEND_OK;
}

/** Builds AEADs for a session's keys. */
export type AeadFactory = (s: WorkerSession) => { tx: Aead; rx: Aead };

/** Keys a worker has retired, never to be used again (bounded: oldest forgotten first). */
export class RetiredKeys {
  #set = new Set<string>();
  constructor(private readonly max = RETIRED_KEYS_REMEMBERED) {}
  add(fingerprint: string): void {
    this.#set.add(fingerprint);
    if (this.#set.size > this.max) this.#set.delete(this.#set.values().next().value!);
  }
  has(fingerprint: string): boolean {
    return this.#set.has(fingerprint);
  }
}

/** The sessions of one peer. */
export class PeerSessions {
  /** Sessions datagrams are accepted under, oldest first; `sending` is one of them. */
  readonly receivable: SessionRuntime[] = [];
  sending: SessionRuntime | null = null;

  constructor(private readonly retired: RetiredKeys, private readonly makeAead: AeadFactory) {}

  /** The session a received header's index names, if it is accepted. */
  forIndex(localIndex: number): SessionRuntime | undefined {
    const r = this.receivable;
    for (let i = 0; i < r.length; i++) if (r[i].localIndex === localIndex) return r[i];
    return undefined;
  }

  /**
   * Makes `ws` receivable. The same keys again keep their sequence and window (only the remote
   * index may change); the same local index with other keys replaces that session; keys once
   * retired are refused (an error). Past {@link MAX_SESSIONS_PER_PEER} the oldest non-sending
   * session is retired.
   */
  install(ws: WorkerSession): SessionRuntime {
    const known = this.receivable.find((s) => s.fingerprint === ws.fingerprint);
    if (known) {
      if (known.localIndex !== ws.localIndex) {
        throw new Error(`session keys reinstalled under another local index (${ws.localIndex})`);
      }
      known.remoteIndex = ws.remoteIndex;
      return known;
    }
    if (this.retired.has(ws.fingerprint)) {
      throw new Error(`session ${ws.localIndex}: these keys were retired and are never reused`);
    }
    const clash = this.forIndex(ws.localIndex);
    if (clash) this.retire(clash.localIndex);
    const aead = this.makeAead(ws);
    const s: SessionRuntime = {
      fingerprint: ws.fingerprint,
      localIndex: ws.localIndex,
      remoteIndex: ws.remoteIndex,
      txDirection: ws.txDirection,
      txAead: aead.tx,
      rxAead: aead.rx,
      txSeq: 0,
      txBytes: 0,
      window: new ReplayWindow(),
      limits: sessionLimits(ws.aead, ws.limits),
      rekeyDueSent: false,
      exhaustedSent: false,
    };
    this.receivable.push(s);
    while (this.receivable.length > MAX_SESSIONS_PER_PEER) {
      const oldest = this.receivable.find((x) => x !== this.sending && x !== s)!;
      this.retire(oldest.localIndex);
    }
    return s;
  }

  /** Sends under the installed session `localIndex` from now on (the previous stays receivable). */
  use(localIndex: number): void {
    const s = this.forIndex(localIndex);
    if (!s) throw new Error(`session ${localIndex} is not installed`);
    this.sending = s;
  }

  /** Stops accepting and sending under `localIndex`; its keys are freed and never reused. */
  retire(localIndex: number): boolean {
    const i = this.receivable.findIndex((s) => s.localIndex === localIndex);
    if (i < 0) return false;
    const [s] = this.receivable.splice(i, 1);
    if (this.sending === s) this.sending = null;
    this.retired.add(s.fingerprint);
    s.txAead.free();
    s.rxAead.free();
    return true;
  }

  /** Retires every session (the peer is gone, or its control session closed). */
  retireAll(): void {
    for (const s of [...this.receivable]) this.retire(s.localIndex);
  }
}
