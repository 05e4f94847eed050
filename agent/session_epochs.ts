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
 * Pure bookkeeping: the agent makes the calls (`agent.ts`).
 *
 * @module
 */

import { localKeys, type SessionKeysEvent, type SessionSecrets } from "./control/mod.ts";
import type { AeadName, SleeveSession } from "../datapath/sleeve/mod.ts";

/** One rekeyed epoch's sleeve session, this side's view. */
export interface EpochSession {
  epoch: number;
  localIndex: number;
  remoteIndex: number;
  keys: { tx: Uint8Array; rx: Uint8Array; txDirection: 0 | 1 };
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
  epochs: Map<number, EpochSession>;
  /** The epoch sent under (0: the handshake's). */
  sending: number;
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
  };
}

/** The rekeyed epochs of every pair. */
export class SessionEpochs {
  #pairs = new Map<string, PairEpochs>();

  /** The pair's session ended or was replaced: its epochs go (the sleeve retires them). */
  reset(peer: string): void {
    const p = this.#pairs.get(peer);
    if (p) { for (const e of p.epochs.values()) wipe(e); }
    this.#pairs.delete(peer);
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
      this.#pairs.set(e.peer, p = { session: e.session, epochs: new Map(), sending: 0 });
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
        if (prev === 0) return { type: "retire", localIndex: handshakeIndex };
        const ep = p.epochs.get(prev);
        if (!ep) return { type: "none", why: `epoch ${prev} is not known` };
        p.epochs.delete(prev);
        wipe(ep);
        return { type: "retire", localIndex: ep.localIndex };
      }
    }
  }
}

function wipe(e: EpochSession): void {
  e.keys.tx.fill(0);
  e.keys.rx.fill(0);
}
