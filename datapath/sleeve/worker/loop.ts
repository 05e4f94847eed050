/**
 * The sleeve's packet worker (the Worker's entry module): one synchronous loop for both
 * directions. It sleeps in poll() on the doorbell, the UDP socket and every TAP; datagrams go
 * through rx.ts, frames through tx.ts; the event loop (where the main thread's messages are
 * handled) runs only when the doorbell says a message waits.
 *
 * One thread rather than one per direction: most packets cause a packet the other way soon
 * (an echo reply, a TCP ACK), and the thread that just wrote the request into the bridge finds
 * the answer already queued on the TAP, with its caches warm. Two threads paid a cold wake-up
 * (≈ 100–200 µs here, measured) for each of those, and the ACK direction's thread woke
 * thousands of times a second during a transfer.
 *
 * The worker runs at realtime priority while it is not saturated (priority.ts,
 * realtime_budget.ts): packets never wait for the scheduler behind the box's ordinary threads.
 *
 * Talking to the main thread (messages.ts): `init` sets up and starts the loop, which posts
 * `ready`; every other request is answered with an `ack` once applied; `stop` is acknowledged
 * after the loop has left, when no descriptor is in use any more.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { libc } from "../sys/libc.ts";
import { loadNobleAes } from "../aead.ts";
import { PollSet } from "../sys/poll.ts";
import { DoorbellListener } from "../doorbell.ts";
import type { WorkerNetwork, WorkerReply, WorkerRequest } from "./messages.ts";
import { PeerTable } from "./peer_table.ts";
import type { PathContext } from "./path.ts";
import { Transmitter } from "./tx.ts";
import { Receiver } from "./rx.ts";
import { Relay } from "./relay.ts";
import { sockaddr } from "../sys/udp.ts";
import { Keepalives } from "./keepalive.ts";
import { WorkerPriority } from "./priority.ts";
import { CATCH_UP_SLEEP_MS, CATCH_UP_TURNS, POLL_TIMEOUT_MS } from "./constants.ts";

/** Poll set order: the doorbell, the UDP socket, then one TAP per network. */
const POLL_BELL = 0;
const POLL_UDP = 1;
const POLL_FIRST_TAP = 2;

let ctx: PathContext | null = null;
let listener: DoorbellListener | null = null;
let networks = new Map<number, WorkerNetwork>();
let relay: Relay | null = null;
let keepalives: Keepalives | null = null;
let running = true;
let stopId = -1;

function reply(r: WorkerReply): void {
  self.postMessage(r);
}

function handle(msg: WorkerRequest): void {
  if (listener) listener.handled++;
  if (msg.type === "init" || msg.type === "stop") {
    apply(msg);
    return; // init answers `ready`; stop is acknowledged when the loop has left
  }
  try {
    apply(msg);
    reply({ type: "ack", id: msg.id });
  } catch (e) {
    reply({ type: "ack", id: msg.id, error: e instanceof Error ? e.message : `${e}` });
  }
}

function apply(msg: WorkerRequest): void {
  switch (msg.type) {
    case "init":
      listener = new DoorbellListener(msg.bell);
      listener.handled = 1;
      ctx = {
        c: libc(),
        udpFd: msg.udpFd,
        counters: new Float64Array(msg.counters),
        peers: new PeerTable(msg.backend),
        tell: reply,
      };
      relay = new Relay(ctx);
      loop(ctx, listener, relay, msg.realtime);
      break;
    case "networks":
      networks = new Map(msg.networks.map((n) => [n.vni, n]));
      break;
    case "peer":
      ctx!.peers.upsert(msg.peer);
      break;
    case "remove":
      ctx!.peers.remove(msg.slot);
      break;
    case "punch":
      keepalives?.punch(ctx!.peers.get(msg.slot), sockaddr(msg.address, msg.port));
      break;
    case "relay":
      ctx!.peers.setSelfId(msg.selfId);
      relay!.forward = msg.forward;
      break;
    case "install":
      ctx!.peers.get(msg.slot).sessions.install(msg.session);
      ctx!.peers.reindex();
      break;
    case "use":
      ctx!.peers.get(msg.slot).sessions.use(msg.localIndex);
      break;
    case "retire":
      ctx!.peers.get(msg.slot).sessions.retire(msg.localIndex);
      ctx!.peers.reindex();
      break;
    case "stop":
      running = false;
      stopId = msg.id;
      break;
  }
}

/**
 * Messages wait here while @noble's AES-GCM loads (only for an `init` on the `noble` backend,
 * loaded on demand: aead.ts), so they are still handled in order.
 */
let loading: Promise<void> | null = null;

self.onmessage = (e: MessageEvent<WorkerRequest>) => {
  const msg = e.data;
  if (msg.type === "init" && msg.backend === "noble") {
    loading = loadNobleAes().then(() => handle(msg));
  } else if (loading) loading = loading.then(() => handle(msg));
  else handle(msg);
};

/** One turn of the event loop, much cheaper than setTimeout(0) (milliseconds in a Worker). */
const turn = () =>
  new Promise<void>((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });

/** Lets the event loop deliver every message posted so far (ring() counted them). */
async function catchUp(l: DoorbellListener): Promise<void> {
  for (let i = 0; l.pending() && i < CATCH_UP_TURNS; i++) await turn();
  if (l.pending()) await new Promise((r) => setTimeout(r, CATCH_UP_SLEEP_MS));
}

async function loop(
  ctx: PathContext,
  bell: DoorbellListener,
  relay: Relay,
  realtime: boolean,
): Promise<void> {
  const tx = new Transmitter(ctx);
  const rx = new Receiver(ctx, relay);
  const ka = keepalives = new Keepalives(ctx);
  let polled: WorkerNetwork[] = [];
  let pollSet = new PollSet([]);
  let pollFor: Map<number, WorkerNetwork> | null = null;
  const priority = new WorkerPriority(ctx, performance.now(), realtime);
  /** When the current turn began (the poll returned); -1 while no turn's time is counted. */
  let woke = -1;
  reply({ type: "ready" });

  while (running) {
    if (woke >= 0) priority.turn(woke, performance.now(), rx.seen, rx.authentic);
    if (pollFor !== networks) {
      pollFor = networks;
      polled = [...networks.values()];
      pollSet = new PollSet([bell.bell.fd, ctx.udpFd, ...polled.map((n) => n.fd)]);
    }
    // No timeout needed: packets and messages both wake the poll. (Spinning briefly after work
    // instead, to catch answers awake, measured worse here: on 2 vCPUs the spinner takes the
    // CPU the other end and the kernel need.)
    const ready = pollSet.wait(POLL_TIMEOUT_MS);
    woke = performance.now();
    // Polls wake at least every POLL_TIMEOUT_MS: often enough for keepalives (seconds).
    ka.tick(woke);
    if (ready <= 0) continue;
    if (pollSet.readable(POLL_BELL)) bell.drain();
    if (bell.pending()) {
      // The catch-up may sleep (a message still in flight): not busy time of the budget.
      priority.turn(woke, performance.now(), rx.seen, rx.authentic);
      woke = -1;
      await catchUp(bell);
      continue;
    }
    rx.clearWritten();
    if (pollSet.readable(POLL_UDP)) rx.receive(networks);
    for (let t = 0; t < polled.length; t++) {
      // What we just wrote into a bridge often has its answer (echo reply, TCP ACK) queued on
      // the TAP already, before poll could say so: read it now, while this thread is warm.
      const net = polled[t];
      if (pollSet.readable(POLL_FIRST_TAP + t) || rx.wroteTo.has(net.fd)) tx.readTap(net);
    }
  }
  // The main thread terminates the worker after this ack.
  reply({ type: "ack", id: stopId });
}
