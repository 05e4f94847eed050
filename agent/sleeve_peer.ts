/**
 * The sleeve's view of a pair (pure): what `Sleeve.upsertPeer` gets from the pair negotiation's
 * state.
 *
 * @module
 */

import type { SleevePeer } from "../datapath/sleeve/mod.ts";
import type { AeadName } from "../datapath/sleeve/mod.ts";
import type { PairState } from "./pair_datapath.ts";
import { type EpochSession, epochSleeveSession } from "./session_epochs.ts";
import type { SleeveTarget } from "./peer_endpoints.ts";

/** ChaCha20-Poly1305 when either end prefers it (a box without AES instructions). */
export function pairAead(p: Readonly<PairState>, preferred: AeadName): AeadName {
  return p.remote?.aead === "chacha20-poly1305" || preferred === "chacha20-poly1305"
    ? "chacha20-poly1305"
    : "aes-256-gcm";
}

/**
 * The sleeve's view of a pair: its session keys once both ends have announced their receiver
 * index (or the rekeyed epoch sent under), and whether it sends on the sleeve; the AEAD of
 * `pairAead`, so both ends pick the same.
 */
export function sleevePeerOf(
  p: Readonly<PairState>,
  vnis: number[],
  preferred: AeadName,
  rekeyed: EpochSession | null = null,
  target: SleeveTarget = { address: p.peer.address, port: p.peer.port, keepaliveMs: 0 },
): SleevePeer {
  const aead = pairAead(p, preferred);
  return {
    name: p.peer.name,
    // Where to send (#15: learned for a peer without a fixed address; "" while unknown), and
    // the keepalive period for a pair across a NAT (peer_endpoints.ts).
    address: target.address,
    port: target.port,
    keepaliveMs: target.keepaliveMs,
    networks: vnis,
    // After a rekey switched, the rekeyed epoch is the one sent under (never the handshake's
    // again: its keys are retired).
    session: p.secrets && rekeyed ? epochSleeveSession(rekeyed, aead) : p.secrets && p.remote
      ? {
        sessionKey: p.secrets.sessionKey,
        dialerNonce: p.secrets.dialerNonce,
        listenerNonce: p.secrets.listenerNonce,
        localIsDialer: p.secrets.localIsDialer,
        localIndex: p.localIndex,
        remoteIndex: p.remote.sleeveIndex,
        aead,
      }
      : null,
    active: p.datapath === "sleeve" && p.secrets !== null && p.remote !== null,
  };
}
