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

/** A peer as the worker sees it. */
export interface WorkerPeer {
  slot: number;
  name: string;
  /** The underlay address, parsed. */
  address: IpAddress;
  port: number;
  networks: number[];
  active: boolean;
  session: {
    localIndex: number;
    remoteIndex: number;
    tx: Uint8Array;
    rx: Uint8Array;
    txDirection: 0 | 1;
    aead: AeadName;
  } | null;
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
  }
  | { type: "networks"; id: number; networks: WorkerNetwork[] }
  | { type: "peer"; id: number; peer: WorkerPeer }
  | { type: "remove"; id: number; slot: number }
  /** Acknowledged once the loop has left: no descriptor is in use after the ack. */
  | { type: "stop"; id: number };

/** What the worker posts back. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "ack"; id: number };
