/**
 * The sleeve's view of a pair (pure): what `Sleeve.upsertPeer` gets from the pair negotiation's
 * state.
 *
 * @module
 */

import type { SleevePeer } from "../datapath/sleeve/mod.ts";
import type { AeadName } from "../datapath/sleeve/mod.ts";
import type { PairState } from "./pair_datapath.ts";

/**
 * The sleeve's view of a pair: its session keys once both ends have announced their receiver
 * index, and whether it sends on the sleeve. ChaCha20-Poly1305 when either end prefers it (a box
 * without AES instructions), so both ends pick the same AEAD.
 */
export function sleevePeerOf(
  p: Readonly<PairState>,
  vnis: number[],
  preferred: AeadName,
): SleevePeer {
  const aead: AeadName = p.remote?.aead === "chacha20-poly1305" || preferred === "chacha20-poly1305"
    ? "chacha20-poly1305"
    : "aes-256-gcm";
  return {
    name: p.peer.name,
    address: p.peer.address,
    port: p.peer.port,
    networks: vnis,
    session: p.secrets && p.remote
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
