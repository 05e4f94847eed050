/**
 * What the main thread (../mod.ts) and the packet worker (loop.ts) say to each other. Every
 * request carries an id; the worker answers `ack` with that id once it has applied it, so the
 * main thread never guesses with sleeps. The worker says `ready` once, after `init` is set up.
 *
 * @module
 */

import type { IpAddress } from "../../../config/mod.ts";
import type { AeadBackend, AeadName } from "../aead.ts";
import type { DoorbellHandle } from "../doorbell.ts";

/** Lower limits for one session's key (defaults: constants.ts; they can only be lowered). */
export interface SessionLimits {
  rekeyAfterPackets: number;
  rejectAfterPackets: number;
  rekeyAfterBytes: number;
  rejectAfterBytes: number;
}

/** One session's keys as the worker gets them. */
export interface WorkerSession {
  /** Identifies the keys (not secret): the same keys keep their sequence numbers. */
  fingerprint: string;
  localIndex: number;
  remoteIndex: number;
  tx: Uint8Array;
  rx: Uint8Array;
  txDirection: 0 | 1;
  aead: AeadName;
  limits?: Partial<SessionLimits>;
}

/** A peer as the worker sees it. */
export interface WorkerPeer {
  slot: number;
  name: string;
  /**
   * The underlay address, parsed; null while unknown (a dial-out-only peer before the control
   * plane saw where it connects from): nothing is sent to it until a datagram says (#15).
   */
  address: IpAddress | null;
  port: number;
  networks: number[];
  active: boolean;
  /** The peer's fleet-wide relay id (#16): names it in relay headers. */
  relayId: number;
  /** The relay its datagrams go through (#16), or null: straight to `address`. */
  via: { address: IpAddress; port: number } | null;
  /** This box may forward datagrams from and to this peer for others (#16). */
  relayFor: boolean;
  /**
   * Keepalive period in ms for a pair whose UDP path crosses a NAT: an authenticated empty
   * datagram after this long without sending (0: none, the pair needs none). keepalive.ts.
   */
  keepaliveMs: number;
  /**
   * The session to send under (installed if new; the one sent under before stays accepted, older
   * ones are retired), or null: every session of the peer is retired.
   */
  session: WorkerSession | null;
}

/** A network as the worker sees it: its VNI, its TAP's descriptor, its MTU. */
export interface WorkerNetwork {
  vni: number;
  fd: number;
  mtu: number;
}

/** Requests to the worker. */
export type WorkerRequest =
  | {
    type: "init";
    counters: SharedArrayBuffer;
    udpFd: number;
    backend: AeadBackend;
    /** Rung by whoever posts to this worker. */
    bell: DoorbellHandle;
    /** Whether the worker may run at realtime priority (worker/realtime_budget.ts). */
    realtime: boolean;
  }
  | { type: "networks"; id: number; networks: WorkerNetwork[] }
  | { type: "peer"; id: number; peer: WorkerPeer }
  | { type: "remove"; id: number; slot: number }
  /**
   * One hole-punching probe (#16): a keepalive of the peer's sending session, sent straight to
   * `address:port` (a candidate endpoint of a relayed peer) instead of where its datagrams go.
   */
  | { type: "punch"; id: number; slot: number; address: IpAddress; port: number }
  /** This box's relay id, and whether it forwards datagrams for others (#16). */
  | { type: "relay"; id: number; selfId: number; forward: boolean }
  /** Accept datagrams under a new session of the peer (the sender does not move). */
  | { type: "install"; id: number; slot: number; session: WorkerSession }
  /** Send under an installed session from now on (the previous stays accepted). */
  | { type: "use"; id: number; slot: number; localIndex: number }
  /** Neither accept nor send under the session any more; its keys are never reused. */
  | { type: "retire"; id: number; slot: number; localIndex: number }
  /** Acknowledged once the loop has left: no descriptor is in use after the ack. */
  | { type: "stop"; id: number };

/** What the worker posts back. */
export type WorkerReply =
  | { type: "ready" }
  /** Applied, or refused with `error` (nothing changed then). */
  | { type: "ack"; id: number; error?: string }
  /**
   * The peer's endpoint moved: an authenticated datagram, newer than any before it, came from
   * another address than the one we sent to (#15: roaming, NAT rebinding). Told once per move.
   */
  | { type: "endpoint"; slot: number; address: string; port: number }
  /**
   * The worker's scheduling policy changed (worker/realtime_budget.ts), with the busy share of
   * the window that decided it and whether refused datagrams (a flood) made it; or the kernel
   * refused a change (`error`: the worker then stays at the policy it has and tries no more).
   */
  | { type: "priority"; realtime: boolean; share: number; flood: boolean; error?: string }
  /** A session's key reached its rekey limit, or its hard limit (nothing sealed under it now). */
  | {
    type: "session";
    slot: number;
    localIndex: number;
    event: "rekey-due" | "exhausted";
    packets: number;
    bytes: number;
  };
