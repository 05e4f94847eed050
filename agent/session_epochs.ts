/**
 * The sleeve's side of periodic rekeys (#14), per pair: the control plane's rekey steps
 * (`SessionKeysEvent`, from `control/rekey.ts`) turned into the sleeve's make-before-break
 * calls, and the session the sleeve sends under once a rekey has switched.
 *
 * Epoch 0 is the handshake's session: its sleeve keys are derived from the session secrets
 * with the receiver indices both ends announced in `caps` (`sleeve_peer.ts`). Every rekey makes
 * epoch n + 1, whose sleeve keys are the v2 per-purpose keys of the rekey's `SessionKeySet`,
 * with the fresh receiver indices of that exchange. The steps, in the order a rekey walks them:
 *
 *   install-rx n   install epoch n receive-only (the sender does not move)
 *   switch-tx n    send under epoch n (both ends have it now)
 *   drop-old n     retire epoch n - 1 (the grace for datagrams in flight is over); wipe its keys
 *
 * An exchange installs nothing before it is committed (`control/rekey.ts`), so no step ever
 * removes an epoch that was not switched to.
 *
 * The fast datapath follows the same steps (`esp`): the ESP SAs a pair wants are the sending
 * epoch's outbound SA and the inbound SA of every epoch still receivable, which the host
 * planner turns into make-before-break `ip xfrm` changes (`datapath/host/plan_esp.ts`).
 *
 * Key material (#14): every epoch's keys here are copies, wiped (fill(0)) when the epoch is
 * retired or the session ends; the handshake's session key (`SessionSecrets.sessionKey`, from
 * which epoch 0's sleeve and ESP keys are derived) is wiped once epoch 0 is retired (the first
 * rekey's drop-old: every datapath then runs on rekeyed keys) or when the session ends. What
 * JavaScript cannot promise: the engine may have copied a buffer before (structured clones to
 * the sleeve worker, the GC moving an ArrayBuffer's store, JIT temporaries of the hash code),
 * and strings are immutable; fill(0) clears the buffers we hold, not copies we never see.
 *
 * Pure bookkeeping: the agent makes the calls (`agent.ts`).
 *
 * @module
 */

import {
  localKeys,
  type SessionKeysEvent,
  type SessionSecrets,
  wipeSessionKeySet,
} from "./control/mod.ts";
import type { AeadName, SleeveSession } from "../datapath/sleeve/mod.ts";

/** One ESP SA's key (AES-256 ‖ salt) and SPI. */
export interface EspSa {
  spi: number;
  key: Uint8Array;
}

/** The ESP SAs a pair wants now: one outbound, one or more inbound (`extraIn` beside `in`). */
export interface PairEsp {
  out: EspSa;
  in: EspSa;
  extraIn: EspSa[];
}

/** One rekeyed epoch's sleeve session and ESP SAs, this side's view. */
export interface EpochSession {
  epoch: number;
  localIndex: number;
  remoteIndex: number;
  keys: { tx: Uint8Array; rx: Uint8Array; txDirection: 0 | 1 };
  esp: { out: EspSa; in: EspSa };
}

/** What the sleeve must do for one rekey step. */
export type SleeveStep =
  | { type: "install"; session: SleeveSession }
  | { type: "use"; localIndex: number }
  | { type: "retire"; localIndex: number }
  | { type: "none"; why: string };

interface PairEpochs {
  /** `SessionSecrets.id` of the session these epochs belong to. */
  session: number;
  /** That session's secrets, to wipe when they are no longer needed. */
  secrets: SessionSecrets | null;
  epochs: Map<number, EpochSession>;
  /** The epoch sent under (0: the handshake's). */
  sending: number;
  /** Epoch 0 is no longer received under (the first rekey's drop-old). */
  handshakeRetired: boolean;
}

/** The sleeve session of a rekeyed epoch under `aead`. */
export function epochSleeveSession(e: EpochSession, aead: AeadName): SleeveSession {
  return { keys: e.keys, localIndex: e.localIndex, remoteIndex: e.remoteIndex, aead };
}

/** This side's sleeve keys and indices of a rekey's key set. */
export function epochOf(
  epoch: number,
  secrets: Pick<SessionSecrets, "localIsDialer">,
  keys: Extract<SessionKeysEvent["action"], { type: "install-rx" }>["keys"],
): EpochSession {
  // The rekey's initiator is the session's dialer, so "dialer" keeps its meaning per session.
  const k = localKeys(keys, secrets.localIsDialer);
  return {
    epoch,
    localIndex: k.localIndex,
    remoteIndex: k.remoteIndex,
    // Copies: the control plane's key set is not ours to wipe.
    keys: { tx: k.tx.sleeve.slice(), rx: k.rx.sleeve.slice(), txDirection: k.txDirection },
    esp: {
      out: { spi: k.tx.esp.spi, key: k.tx.esp.key.slice() },
      in: { spi: k.rx.esp.spi, key: k.rx.esp.key.slice() },
    },
  };
}

/** The rekeyed epochs of every pair. */
export class SessionEpochs {
  #pairs = new Map<string, PairEpochs>();

  /** A new session of the pair: the previous one's epochs and secrets go. */
  sessionUp(peer: string, secrets: SessionSecrets): void {
    this.reset(peer);
    this.#pairs.set(peer, newPair(secrets.id, secrets));
  }

  /**
   * The pair's session ended or was replaced: its epochs go (the sleeve retires them) and its
   * secrets are wiped.
   */
  reset(peer: string): void {
    const p = this.#pairs.get(peer);
    if (p) {
      for (const e of p.epochs.values()) wipe(e);
      if (p.secrets) wipeSecrets(p.secrets);
    }
    this.#pairs.delete(peer);
  }

  /**
   * The ESP SAs the pair wants now; `handshake` gives epoch 0's (derived from the session key,
   * asked for only while epoch 0 is sent or received under). Null: nothing rekeyed yet, the
   * caller uses the handshake's.
   */
  esp(peer: string, handshake: () => { out: EspSa; in: EspSa }): PairEsp | null {
    const p = this.#pairs.get(peer);
    if (!p || p.epochs.size === 0) return null;
    const zero = p.sending === 0 || !p.handshakeRetired ? handshake() : null;
    const of = (n: number) => n === 0 ? zero : p.epochs.get(n)?.esp ?? null;
    const sending = of(p.sending);
    if (!sending) return null;
    const extraIn: EspSa[] = [];
    if (zero && p.sending !== 0 && !p.handshakeRetired) extraIn.push(zero.in);
    for (const [n, e] of [...p.epochs].sort(([a], [b]) => a - b)) {
      if (n !== p.sending) extraIn.push(e.esp.in);
    }
    return { out: sending.out, in: sending.in, extraIn };
  }

  /** Every pair's epochs go. */
  clear(): void {
    for (const peer of [...this.#pairs.keys()]) this.reset(peer);
  }

  /** The rekeyed epoch sent under, or null while the handshake's session is. */
  sending(peer: string): EpochSession | null {
    const p = this.#pairs.get(peer);
    return p && p.sending > 0 ? p.epochs.get(p.sending) ?? null : null;
  }

  /** Rekeys completed on the pair's current session (as the sleeve saw them switch). */
  epoch(peer: string): number {
    return this.#pairs.get(peer)?.sending ?? 0;
  }

  /**
   * The sleeve's step for one rekey event. `secrets` is the pair's session now (an event of an
   * older session is ignored), `handshakeIndex` the receiver index epoch 0 was given.
   */
  step(
    e: SessionKeysEvent,
    secrets: SessionSecrets | null,
    handshakeIndex: number,
    aead: AeadName,
  ): SleeveStep {
    if (!secrets || secrets.id !== e.session) {
      return { type: "none", why: `session ${e.session} is not the pair's session` };
    }
    let p = this.#pairs.get(e.peer);
    if (!p || p.session !== e.session) {
      this.reset(e.peer);
      this.#pairs.set(e.peer, p = newPair(e.session, secrets));
    }
    const a = e.action;
    switch (a.type) {
      case "install-rx": {
        const ep = epochOf(a.epoch, secrets, a.keys);
        // Older than the one sent under and the one before it: the sleeve keeps no more.
        for (const [n, old] of p.epochs) {
          if (n === a.epoch || (n < a.epoch - 2 && n !== p.sending)) {
            p.epochs.delete(n);
            wipe(old);
          }
        }
        p.epochs.set(a.epoch, ep);
        return { type: "install", session: epochSleeveSession(ep, aead) };
      }
      case "switch-tx": {
        const ep = p.epochs.get(a.epoch);
        if (!ep) return { type: "none", why: `epoch ${a.epoch} was never installed` };
        p.sending = a.epoch;
        return { type: "use", localIndex: ep.localIndex };
      }
      case "drop-old": {
        const prev = a.epoch - 1;
        if (prev === 0) {
          // Every datapath runs on rekeyed keys now: the handshake's session key goes.
          p.handshakeRetired = true;
          secrets.sessionKey?.fill(0);
          return { type: "retire", localIndex: handshakeIndex };
        }
        const ep = p.epochs.get(prev);
        if (!ep) return { type: "none", why: `epoch ${prev} is not known` };
        p.epochs.delete(prev);
        wipe(ep);
        return { type: "retire", localIndex: ep.localIndex };
      }
    }
  }
}

function newPair(session: number, secrets: SessionSecrets | null): PairEpochs {
  return { session, secrets, epochs: new Map(), sending: 0, handshakeRetired: false };
}

function wipe(e: EpochSession): void {
  e.keys.tx.fill(0);
  e.keys.rx.fill(0);
  e.esp.out.key.fill(0);
  e.esp.in.key.fill(0);
}

/** A session that ended: its key and the handshake's per-purpose keys are no longer used. */
function wipeSecrets(s: SessionSecrets): void {
  s.sessionKey?.fill(0);
  if (s.keys) wipeSessionKeySet(s.keys);
}
