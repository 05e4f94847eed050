/**
 * One TCP control connection per pair of peers: dial and accept, handshake with ephemeral
 * X25519 keys and key confirmation, sealed length-framed JSON messages, heartbeats with RTT,
 * reconnect with backoff and jitter, and a deterministic tie-break so a pair ends up with one
 * session even when both sides dial at once.
 *
 * Wire format, both sides, in this order:
 *   header   "weave-agent\0" ‖ u8 min version ‖ u8 max version                     (14 bytes)
 *   hello    u8 name length ‖ name ‖ X25519 public key (32) ‖ nonce (32)
 *   confirm  u8 1 ‖ HMAC (32)   — or u8 2 ("your confirmation did not verify")
 *   then     u32 length ‖ ChaCha20-Poly1305(JSON), nonce = u32 polarity ‖ u64 sequence
 *
 * @module
 */

import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Logger } from "./log.ts";
import { RateLimitedLog } from "./log.ts";
import {
  confirmationMac,
  deriveControlKeys,
  deriveSharedSecret,
  type Direction,
  equalBytes,
  generateEphemeral,
  sessionKeyFromShared,
  type SessionSecrets,
} from "./session_keys.ts";

export const PROTOCOL_MAGIC = new TextEncoder().encode("weave-agent\0");
export const PROTOCOL_MIN = 1;
export const PROTOCOL_MAX = 1;
const HEADER_BYTES = PROTOCOL_MAGIC.length + 2;
const MAX_FRAME = 64 * 1024;
const MAX_NAME = 63;
const MAX_PENDING = 64;
const CONFIRM_OK = 1;
const CONFIRM_FAILED = 2;

/** A peer this box may talk to. */
export interface PeerEndpoint {
  name: string;
  address: string;
  port: number;
}

/** Options of PeerConnections. */
export interface PeerConnectionsOptions {
  localName: string;
  listenAddress: string;
  listenPort: number;
  peers: PeerEndpoint[];
  password: Uint8Array | null;
  logger: Logger;
  heartbeatMs?: number;
  deadAfterMs?: number;
  handshakeTimeoutMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /**
   * Protocol versions this side speaks; default PROTOCOL_MIN..PROTOCOL_MAX. Only a future
   * release (or a test of the negotiation) sets it.
   */
  versions?: { min: number; max: number };
  /** Delay before the side with the larger name dials first; default 1–1.5 s. */
  largerNameDialDelayMs?: number;
}

/** Why bad input was dropped. */
export type DropReason =
  | "bad-header"
  | "bad-version"
  | "truncated"
  | "timeout"
  | "oversize"
  | "unknown-peer"
  | "auth"
  | "garbage"
  | "too-many-pending";

type PeerStateName =
  | "connecting"
  | "handshaking"
  | "up"
  | "down"
  | "auth-failed"
  | "version-mismatch";

interface Session {
  conn: Deno.TcpConn;
  secrets: SessionSecrets;
  dialer: string;
  sendKey: Uint8Array;
  recvKey: Uint8Array;
  sendPolarity: number;
  recvPolarity: number;
  sendSeq: bigint;
  recvSeq: bigint;
  lastRx: number;
  closed: boolean;
  /** The handshake's reader: it may already hold the first sealed frames. */
  reader: Reader;
  /** Serialises writes so frames never interleave. */
  queue: Promise<void>;
}

interface PeerRecord {
  endpoint: PeerEndpoint;
  state: PeerStateName;
  since: number;
  session: Session | null;
  sessionSince: number | null;
  rttMs: number | null;
  lastError: string | null;
  attempts: number;
  dialTimer: ReturnType<typeof setTimeout> | null;
  dialing: boolean;
  counters: { messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number };
}

class ProtocolError extends Error {
  constructor(readonly reason: DropReason, message: string) {
    super(message);
  }
}

/** Buffered, bounded reads with a deadline. */
class Reader {
  #buf = new Uint8Array(0);
  constructor(private readonly conn: Deno.Conn) {}

  async exact(n: number, deadline: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new ProtocolError("timeout", "timed out");
      const chunk = new Uint8Array(Math.max(4096, n - this.#buf.length));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([
        this.conn.read(chunk),
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]).finally(() => clearTimeout(timer));
      if (got === "timeout") throw new ProtocolError("timeout", "timed out");
      if (got === null) throw new ProtocolError("truncated", "connection closed");
      const next = new Uint8Array(this.#buf.length + got);
      next.set(this.#buf);
      next.set(chunk.subarray(0, got), this.#buf.length);
      this.#buf = next;
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function nonceFor(polarity: number, seq: bigint): Uint8Array {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(0, polarity);
  v.setBigUint64(4, seq);
  return n;
}

let nextSessionId = 1;

/** The control plane's connection manager. Events: session-up, session-down, message, auth-failed. */
export class PeerConnections extends EventTarget {
  #peers = new Map<string, PeerRecord>();
  #listener: Deno.TcpListener | null = null;
  #pending = 0;
  #closed = false;
  #heartbeat: ReturnType<typeof setInterval> | null = null;
  #log: Logger;
  #limited: RateLimitedLog;
  readonly drops: Record<DropReason, number> = {
    "bad-header": 0,
    "bad-version": 0,
    truncated: 0,
    timeout: 0,
    oversize: 0,
    "unknown-peer": 0,
    auth: 0,
    garbage: 0,
    "too-many-pending": 0,
  };
  readonly #o: Required<PeerConnectionsOptions>;

  constructor(opts: PeerConnectionsOptions) {
    super();
    this.#o = {
      heartbeatMs: 2000,
      deadAfterMs: 7000,
      handshakeTimeoutMs: 5000,
      backoffBaseMs: 250,
      backoffMaxMs: 10_000,
      versions: { min: PROTOCOL_MIN, max: PROTOCOL_MAX },
      largerNameDialDelayMs: 1000,
      ...opts,
    };
    this.#log = opts.logger;
    this.#limited = new RateLimitedLog(opts.logger);
    for (const p of opts.peers) this.#addPeer(p);
  }

  /** Starts listening and dialling. */
  start(): void {
    this.#listener = Deno.listen({
      hostname: this.#o.listenAddress,
      port: this.#o.listenPort,
      transport: "tcp",
    });
    this.#accept(this.#listener);
    for (const p of this.#peers.values()) this.#scheduleDial(p, this.#initialDelay(p));
    this.#heartbeat = setInterval(() => this.#beat(), this.#o.heartbeatMs);
  }

  /** The side with the larger name waits a moment so that usually only one side dials. */
  #initialDelay(p: PeerRecord): number {
    const d = this.#o.largerNameDialDelayMs;
    return this.#o.localName < p.endpoint.name ? 0 : d + Math.random() * d / 2;
  }

  #addPeer(endpoint: PeerEndpoint): void {
    this.#peers.set(endpoint.name, {
      endpoint,
      state: "connecting",
      since: Date.now(),
      session: null,
      sessionSince: null,
      rttMs: null,
      lastError: null,
      attempts: 0,
      dialTimer: null,
      dialing: false,
      counters: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    });
  }

  /** Replaces the set of peers (config reload): removed or moved peers are disconnected. */
  updatePeers(list: PeerEndpoint[]): void {
    const next = new Map(list.map((p) => [p.name, p]));
    for (const [name, rec] of this.#peers) {
      const n = next.get(name);
      if (!n || n.address !== rec.endpoint.address || n.port !== rec.endpoint.port) {
        if (rec.dialTimer) clearTimeout(rec.dialTimer);
        this.#endSession(rec, "peer removed or moved by config reload");
        this.#peers.delete(name);
      }
    }
    for (const p of list) {
      if (!this.#peers.has(p.name)) {
        this.#addPeer(p);
        if (this.#listener) {
          this.#scheduleDial(
            this.#peers.get(p.name)!,
            this.#initialDelay(this.#peers.get(p.name)!),
          );
        }
      }
    }
  }

  #drop(reason: DropReason, key: string, msg: string, fields: Record<string, unknown> = {}): void {
    this.drops[reason]++;
    this.#limited.log("warn", `${reason}:${key}`, msg, { reason, ...fields });
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of listener) {
        if (this.#pending >= MAX_PENDING) {
          this.#drop(
            "too-many-pending",
            "accept",
            "too many unauthenticated connections; refusing",
          );
          conn.close();
          continue;
        }
        this.#handshake(conn, null).catch(() => {});
      }
    } catch (e) {
      if (!this.#closed) this.#log.error("control listener failed", { error: `${e}` });
    }
  }

  #scheduleDial(rec: PeerRecord, delay: number): void {
    if (this.#closed || rec.dialTimer || rec.session) return;
    rec.dialTimer = setTimeout(() => {
      rec.dialTimer = null;
      this.#dial(rec);
    }, delay);
  }

  #backoff(rec: PeerRecord): number {
    const exp = Math.min(
      this.#o.backoffMaxMs,
      this.#o.backoffBaseMs * 2 ** Math.min(rec.attempts, 10),
    );
    return exp / 2 + Math.random() * exp / 2;
  }

  async #dial(rec: PeerRecord): Promise<void> {
    if (this.#closed || rec.session || rec.dialing || !this.#peers.has(rec.endpoint.name)) return;
    rec.dialing = true;
    rec.attempts++;
    try {
      const conn = await Deno.connect({
        hostname: rec.endpoint.address,
        port: rec.endpoint.port,
        transport: "tcp",
      });
      await this.#handshake(conn, rec);
    } catch (e) {
      if (rec.state !== "auth-failed" && rec.state !== "version-mismatch") {
        rec.lastError = e instanceof Error ? e.message : String(e);
        if (rec.state !== "up") this.#setState(rec, "connecting");
      }
    } finally {
      rec.dialing = false;
      if (!rec.session && this.#peers.get(rec.endpoint.name) === rec) {
        this.#scheduleDial(rec, this.#backoff(rec));
      }
    }
  }

  #setState(rec: PeerRecord, state: PeerStateName): void {
    if (rec.state !== state) {
      rec.state = state;
      rec.since = Date.now();
    }
  }

  /**
   * Runs the handshake on `conn`. `dialled` is the peer we dialled, or null for an accepted
   * connection (the peer is identified by its hello and must come from its configured address).
   */
  async #handshake(conn: Deno.TcpConn, dialled: PeerRecord | null): Promise<void> {
    const remoteAddr = (conn.remoteAddr as Deno.NetAddr).hostname;
    // Control messages are small and latency matters (heartbeat RTT, datapath decisions):
    // Nagle plus delayed ACKs would add tens of milliseconds.
    try {
      conn.setNoDelay(true);
    } catch { /* already closed */ }
    const deadline = Date.now() + this.#o.handshakeTimeoutMs;
    const reader = new Reader(conn);
    const isDialer = dialled !== null;
    let peerName = dialled?.endpoint.name ?? `unknown@${remoteAddr}`;
    this.#pending++;
    let established = false;
    try {
      const { min: vmin, max: vmax } = this.#o.versions;
      const myHeader = concat(PROTOCOL_MAGIC, new Uint8Array([vmin, vmax]));
      await writeAll(conn, myHeader);
      const theirHeader = await reader.exact(HEADER_BYTES, deadline);
      if (!equalBytes(theirHeader.subarray(0, PROTOCOL_MAGIC.length), PROTOCOL_MAGIC)) {
        throw new ProtocolError("bad-header", "not the weave-agent protocol");
      }
      const [tmin, tmax] = [
        theirHeader[PROTOCOL_MAGIC.length],
        theirHeader[PROTOCOL_MAGIC.length + 1],
      ];
      if (tmax < vmin || tmin > vmax || tmin > tmax) {
        if (dialled) this.#setState(dialled, "version-mismatch");
        throw new ProtocolError(
          "bad-version",
          `incompatible protocol versions: ${
            dialled ? `peer ${peerName} at ${remoteAddr}` : `the peer at ${remoteAddr}`
          } speaks ${tmin}..${tmax}, this agent ${vmin}..${vmax}`,
        );
      }

      const eph = generateEphemeral();
      const myNonce = crypto.getRandomValues(new Uint8Array(32));
      const nameBytes = new TextEncoder().encode(this.#o.localName);
      const myHello = concat(new Uint8Array([nameBytes.length]), nameBytes, eph.publicKey, myNonce);
      await writeAll(conn, myHello);
      const nameLen = (await reader.exact(1, deadline))[0];
      if (nameLen === 0 || nameLen > MAX_NAME) {
        throw new ProtocolError("garbage", "bad name length");
      }
      const rest = await reader.exact(nameLen + 64, deadline);
      const theirName = new TextDecoder("utf-8", { fatal: false }).decode(
        rest.subarray(0, nameLen),
      );
      const theirPub = rest.slice(nameLen, nameLen + 32);
      const theirNonce = rest.slice(nameLen + 32, nameLen + 64);
      const theirHello = concat(new Uint8Array([nameLen]), rest);

      const rec = this.#peers.get(theirName);
      if (dialled) {
        if (theirName !== dialled.endpoint.name) {
          throw new ProtocolError(
            "unknown-peer",
            `dialled ${dialled.endpoint.name} but ${JSON.stringify(theirName)} answered`,
          );
        }
      } else if (!rec || rec.endpoint.address !== remoteAddr) {
        throw new ProtocolError(
          "unknown-peer",
          `refused ${JSON.stringify(theirName)} from ${remoteAddr}: not a peer in weave.yaml${
            rec ? ` (expected from ${rec.endpoint.address})` : ""
          }`,
        );
      }
      peerName = theirName;
      const peer = dialled ?? rec!;
      this.#setState(peer, peer.state === "up" ? "up" : "handshaking");

      const shared = deriveSharedSecret(eph.privateKey, theirPub);
      const sessionKey = sessionKeyFromShared(shared, this.#o.password);
      const dialerNonce = isDialer ? myNonce : theirNonce;
      const listenerNonce = isDialer ? theirNonce : myNonce;
      const transcript = sha256(
        isDialer
          ? concat(myHeader, theirHeader, myHello, theirHello)
          : concat(theirHeader, myHeader, theirHello, myHello),
      );
      const myDir: Direction = isDialer ? "dialer->listener" : "listener->dialer";
      const theirDir: Direction = isDialer ? "listener->dialer" : "dialer->listener";
      const myMac = confirmationMac(sessionKey, dialerNonce, listenerNonce, myDir, transcript);
      await writeAll(conn, concat(new Uint8Array([CONFIRM_OK]), myMac));
      const kind = (await reader.exact(1, deadline))[0];
      const mismatch = `password mismatch with peer ${peerName} at ${peer.endpoint.address}`;
      if (kind === CONFIRM_FAILED) throw new ProtocolError("auth", mismatch);
      if (kind !== CONFIRM_OK) throw new ProtocolError("garbage", "bad confirmation frame");
      const theirMac = await reader.exact(32, deadline);
      const expected = confirmationMac(
        sessionKey,
        dialerNonce,
        listenerNonce,
        theirDir,
        transcript,
      );
      if (!equalBytes(theirMac, expected)) {
        await writeAll(conn, new Uint8Array([CONFIRM_FAILED])).catch(() => {});
        throw new ProtocolError("auth", mismatch);
      }

      const keys = deriveControlKeys(sessionKey, dialerNonce, listenerNonce);
      const session: Session = {
        conn,
        dialer: isDialer ? this.#o.localName : peerName,
        secrets: {
          sessionKey,
          dialerNonce,
          listenerNonce,
          localIsDialer: isDialer,
          authenticated: this.#o.password !== null,
          id: nextSessionId++,
        },
        sendKey: isDialer ? keys.dialerToListener : keys.listenerToDialer,
        recvKey: isDialer ? keys.listenerToDialer : keys.dialerToListener,
        sendPolarity: isDialer ? 0 : 1,
        recvPolarity: isDialer ? 1 : 0,
        sendSeq: 0n,
        recvSeq: 0n,
        lastRx: Date.now(),
        closed: false,
        reader,
        queue: Promise.resolve(),
      };
      this.#pending--;
      established = true;
      this.#install(peer, session);
    } catch (e) {
      const err = e instanceof ProtocolError
        ? e
        : new ProtocolError("truncated", e instanceof Error ? e.message : String(e));
      const rec = this.#peers.get(peerName);
      if (err.reason === "auth" && rec) {
        this.#setState(rec, "auth-failed");
        rec.lastError = err.message;
        this.drops.auth++;
        this.#limited.log("error", `auth:${peerName}`, err.message);
        this.dispatchEvent(
          new CustomEvent("auth-failed", {
            detail: { peer: peerName, address: rec.endpoint.address },
          }),
        );
      } else if (err.reason === "bad-version") {
        if (rec) rec.lastError = err.message;
        this.#drop("bad-version", remoteAddr, err.message, { from: remoteAddr });
      } else if (!dialled) {
        this.#drop(
          err.reason,
          remoteAddr,
          `control connection from ${remoteAddr} dropped: ${err.message}`,
        );
      } else if (rec) {
        rec.lastError = err.message;
      }
      try {
        conn.close();
      } catch { /* closed */ }
      throw err;
    } finally {
      if (!established) this.#pending--;
    }
  }

  /** Keeps one session per pair: the one dialled by the smaller name, else the newest. */
  #install(rec: PeerRecord, session: Session): void {
    const old = rec.session;
    if (old && !old.closed) {
      const preferred = this.#o.localName < rec.endpoint.name
        ? this.#o.localName
        : rec.endpoint.name;
      const keepOld = old.dialer === preferred && session.dialer !== preferred;
      if (keepOld) {
        session.closed = true;
        try {
          session.conn.close();
        } catch { /* closed */ }
        return;
      }
      old.closed = true;
      try {
        old.conn.close();
      } catch { /* closed */ }
      this.dispatchEvent(
        new CustomEvent("session-down", {
          detail: { peer: rec.endpoint.name, reason: "replaced by a newer connection" },
        }),
      );
    }
    if (rec.dialTimer) {
      clearTimeout(rec.dialTimer);
      rec.dialTimer = null;
    }
    rec.session = session;
    rec.sessionSince = Date.now();
    rec.attempts = 0;
    rec.lastError = null;
    this.#setState(rec, "up");
    this.dispatchEvent(
      new CustomEvent("session-up", {
        detail: {
          peer: rec.endpoint.name,
          secrets: session.secrets,
          remoteAddress: rec.endpoint.address,
        },
      }),
    );
    this.#readLoop(rec, session);
  }

  async #readLoop(rec: PeerRecord, s: Session): Promise<void> {
    const reader = s.reader;
    let reason = "connection closed";
    try {
      while (!s.closed) {
        const lenBytes = await reader.exact(4, Date.now() + this.#o.deadAfterMs + 60_000);
        const len = new DataView(lenBytes.buffer).getUint32(0);
        if (len < 16 || len > MAX_FRAME) {
          throw new ProtocolError("oversize", `frame of ${len} bytes`);
        }
        const sealed = await reader.exact(len, Date.now() + this.#o.deadAfterMs);
        s.recvSeq++;
        let plain: Uint8Array;
        try {
          plain = chacha20poly1305(s.recvKey, nonceFor(s.recvPolarity, s.recvSeq)).decrypt(sealed);
        } catch {
          throw new ProtocolError(
            "auth",
            "a control message failed authentication (forged, replayed or out of order)",
          );
        }
        s.lastRx = Date.now();
        rec.counters.messagesIn++;
        rec.counters.bytesIn += len + 4;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(new TextDecoder().decode(plain));
        } catch {
          throw new ProtocolError("garbage", "a control message is not JSON");
        }
        if (msg.type === "heartbeat") {
          this.#sendOn(rec, s, { type: "heartbeat-ack", t: msg.t });
        } else if (msg.type === "heartbeat-ack") {
          if (typeof msg.t === "number") rec.rttMs = Math.max(0, performance.now() - msg.t);
        } else {
          this.dispatchEvent(
            new CustomEvent("message", { detail: { peer: rec.endpoint.name, msg } }),
          );
        }
      }
    } catch (e) {
      if (e instanceof ProtocolError && e.reason !== "truncated") {
        this.#drop(
          e.reason,
          rec.endpoint.name,
          `session with ${rec.endpoint.name} ended: ${e.message}`,
        );
      }
      reason = e instanceof Error ? e.message : String(e);
    }
    if (rec.session === s) this.#endSession(rec, reason);
  }

  #endSession(rec: PeerRecord, reason: string): void {
    const s = rec.session;
    if (!s) return;
    s.closed = true;
    try {
      s.conn.close();
    } catch { /* closed */ }
    rec.session = null;
    rec.sessionSince = null;
    rec.rttMs = null;
    rec.lastError = reason;
    this.#setState(rec, "down");
    this.dispatchEvent(
      new CustomEvent("session-down", { detail: { peer: rec.endpoint.name, reason } }),
    );
    if (!this.#closed && this.#peers.get(rec.endpoint.name) === rec) {
      this.#scheduleDial(rec, this.#initialDelay(rec) + this.#backoff(rec));
    }
  }

  #sendOn(rec: PeerRecord, s: Session, msg: Record<string, unknown>): boolean {
    if (s.closed) return false;
    s.sendSeq++;
    const plain = new TextEncoder().encode(JSON.stringify(msg));
    const sealed = chacha20poly1305(s.sendKey, nonceFor(s.sendPolarity, s.sendSeq)).encrypt(plain);
    const frame = new Uint8Array(4 + sealed.length);
    new DataView(frame.buffer).setUint32(0, sealed.length);
    frame.set(sealed, 4);
    rec.counters.messagesOut++;
    rec.counters.bytesOut += frame.length;
    s.queue = s.queue.then(() => writeAll(s.conn, frame))
      .catch(() => {
        if (rec.session === s) this.#endSession(rec, "write failed");
      });
    return true;
  }

  /** Sends a sealed message on the peer's current session; false when there is none. */
  send(peer: string, msg: Record<string, unknown>): boolean {
    const rec = this.#peers.get(peer);
    return rec?.session ? this.#sendOn(rec, rec.session, msg) : false;
  }

  #beat(): void {
    const now = Date.now();
    for (const rec of this.#peers.values()) {
      const s = rec.session;
      if (!s) continue;
      if (now - s.lastRx > this.#o.deadAfterMs) {
        this.#endSession(rec, `no message for ${this.#o.deadAfterMs} ms`);
        continue;
      }
      this.#sendOn(rec, s, { type: "heartbeat", t: performance.now() });
    }
  }

  /** Per-peer state and counters, and bad-input drops by reason. */
  status(): { peers: Record<string, unknown>; drops: Record<DropReason, number> } {
    const now = Date.now();
    const peers: Record<string, unknown> = {};
    for (const [name, r] of this.#peers) {
      peers[name] = {
        state: r.state,
        address: `${r.endpoint.address}:${r.endpoint.port}`,
        sinceSeconds: Math.round((now - r.since) / 1000),
        handshakeAgeSeconds: r.sessionSince ? Math.round((now - r.sessionSince) / 1000) : null,
        rttMs: r.rttMs === null ? null : Math.round(r.rttMs * 100) / 100,
        sessionId: r.session?.secrets.id ?? null,
        authenticated: r.session?.secrets.authenticated ?? null,
        lastError: r.lastError,
        counters: { ...r.counters },
      };
    }
    return { peers, drops: { ...this.drops } };
  }

  /** Closes every connection and the listener. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    try {
      this.#listener?.close();
    } catch { /* closed */ }
    for (const rec of this.#peers.values()) {
      if (rec.dialTimer) clearTimeout(rec.dialTimer);
      if (rec.session) {
        rec.session.closed = true;
        try {
          rec.session.conn.close();
        } catch { /* closed */ }
        rec.session = null;
      }
    }
  }
}
