/**
 * The connection manager of the control plane: one authenticated session per pair of peers.
 *
 * It listens, and dials every configured peer; each TCP connection runs the handshake of
 * `handshake.ts`. When both sides dial at once, the side with the lexicographically smaller
 * name decides which confirmed connection becomes the session (the first to complete there)
 * and tells the other side with a sealed "keep" or "duplicate", so both ends agree without
 * flapping. Heartbeats measure RTT and detect silent peers; lost sessions are redialled with
 * exponential backoff and jitter. Bad input is dropped, counted by reason and logged at a
 * bounded rate.
 *
 * Events (CustomEvent detail):
 * - `session-up`   `{peer, secrets: SessionSecrets, remoteAddress}`
 * - `session-down` `{peer, reason}`
 * - `message`      `{peer, msg}` (every message except the heartbeats handled here)
 * - `auth-failed`  `{peer, address}`
 *
 * @module
 */

import { isDecider } from "./pair_roles.ts";
import {
  agreeOnSession,
  PROTOCOL_MAX_VERSION,
  PROTOCOL_MIN_VERSION,
  runHandshake,
  type VersionRange,
} from "./handshake.ts";
import { FrameReader, MAX_FRAME_BYTES } from "./frame_reader.ts";
import type { Logger } from "../ops/log.ts";
import { RateLimitedLog } from "../ops/log.ts";
import { canonicalAddress } from "./peer_address.ts";
import { type ControlMessage, type SecureChannel, TAG_BYTES } from "./secure_channel.ts";
import type { SessionSecrets } from "./session_keys.ts";
import { type ByteStream, DenoConnStream, dialTcp } from "./tcp_stream.ts";
import { DROP_REASONS, type DropReason, WireError } from "./wire_error.ts";

export type { DropReason } from "./wire_error.ts";

/** A peer this box may talk to (from weave.yaml). */
export interface PeerEndpoint {
  name: string;
  address: string;
  port: number;
}

/** Construction options of PeerConnections. */
export interface PeerConnectionsOptions {
  localName: string;
  /** Address to listen on; also the source address of our dials unless it is a wildcard. */
  listenAddress: string;
  listenPort: number;
  peers: PeerEndpoint[];
  /** Null: sessions are unauthenticated (the caller warns). */
  password: Uint8Array | null;
  logger: Logger;
  /** Heartbeat period (default 2000 ms). */
  heartbeatMs?: number;
  /** A session with nothing received for this long is down (default 7000 ms). */
  deadAfterMs?: number;
  /** Connect plus handshake must finish within this (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** First reconnect delay (default 250 ms); doubles per failed attempt. */
  backoffBaseMs?: number;
  /** Reconnect delay cap (default 10 000 ms). */
  backoffMaxMs?: number;
  /**
   * The side with the larger name waits this long (plus up to as much jitter) before dialling,
   * so usually only the deciding side's connection is made (default 300 ms; 0 dials at once).
   */
  deferDialMs?: number;
  /** Accepted, unauthenticated connections at once: in total (default 64), per source (8). */
  maxPendingHandshakes?: number;
  maxPendingPerSource?: number;
  /** Bytes of queued outgoing frames after which a session is ended (default 1 MiB). */
  maxQueuedBytes?: number;
  /** Protocol versions spoken (default: this build's); tests pretend to be other builds. */
  versions?: VersionRange;
}

/** Where a peer stands. */
export type PeerStateName =
  | "connecting"
  | "handshaking"
  | "up"
  | "down"
  | "auth-failed"
  | "version-mismatch";

/** Message and byte counters of one peer, summed over its sessions. */
export interface PeerCounters {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** One peer in `status()`. */
export interface PeerStatus {
  state: PeerStateName;
  /** `address:port` from the config. */
  address: string;
  /** When the state last changed (ms since the epoch). */
  since: number;
  sinceSeconds: number;
  /** Seconds since the current session's handshake; null without a session. */
  handshakeAgeSeconds: number | null;
  /** Last heartbeat round trip; null before the first. */
  rttMs: number | null;
  sessionId: number | null;
  authenticated: boolean | null;
  counters: PeerCounters;
  lastError: string | null;
}

/** What `status()` returns. */
export interface PeerConnectionsStatus {
  peers: Record<string, PeerStatus>;
  /** Bad input dropped, by reason. */
  drops: Record<DropReason, number>;
  /** Accepted connections still handshaking. */
  pendingHandshakes: number;
  /** Confirmed connections closed because the pair already had a session (simultaneous dial). */
  duplicatesClosed: number;
}

interface Session {
  stream: ByteStream;
  reader: FrameReader;
  channel: SecureChannel;
  secrets: SessionSecrets;
  establishedAt: number;
  lastRx: number;
  closed: boolean;
  /** Writes in order; frames never interleave. */
  queue: Promise<void>;
  queuedBytes: number;
}

interface PeerRecord {
  endpoint: PeerEndpoint;
  canonical: string;
  state: PeerStateName;
  since: number;
  session: Session | null;
  rttMs: number | null;
  lastError: string | null;
  attempts: number;
  dialTimer: ReturnType<typeof setTimeout> | null;
  dialing: boolean;
  /** Accepted connections that named this peer in their HELLO and are still handshaking. */
  inbound: number;
  /** The last dial was put off because the peer was connecting to us. */
  deferred: boolean;
  removed: boolean;
  counters: PeerCounters;
}

let nextSessionId = 1;

const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]"]);

/** The control plane's connection manager. See the module doc for its events. */
export class PeerConnections extends EventTarget {
  readonly #o: Required<PeerConnectionsOptions>;
  readonly #log: Logger;
  readonly #limited: RateLimitedLog;
  #peers = new Map<string, PeerRecord>();
  #byAddress = new Map<string, Set<string>>();
  #listener: Deno.TcpListener | null = null;
  #heartbeat: ReturnType<typeof setInterval> | null = null;
  #streams = new Set<ByteStream>();
  #tasks = new Set<Promise<unknown>>();
  #pending = 0;
  #pendingBySource = new Map<string, number>();
  #duplicates = 0;
  #closed = false;
  readonly #abort = new AbortController();
  readonly #drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
    DropReason,
    number
  >;

  constructor(opts: PeerConnectionsOptions) {
    super();
    this.#o = {
      heartbeatMs: 2000,
      deadAfterMs: 7000,
      handshakeTimeoutMs: 5000,
      backoffBaseMs: 250,
      backoffMaxMs: 10_000,
      deferDialMs: 300,
      maxPendingHandshakes: 64,
      maxPendingPerSource: 8,
      maxQueuedBytes: 1 << 20,
      versions: { min: PROTOCOL_MIN_VERSION, max: PROTOCOL_MAX_VERSION },
      ...opts,
    };
    this.#log = opts.logger;
    this.#limited = new RateLimitedLog(opts.logger);
    for (const p of opts.peers) this.#addPeer(p);
  }

  /** The address and port actually listened on (port 0 picks one). */
  get listenAddr(): Deno.NetAddr | null {
    return this.#listener ? this.#listener.addr as Deno.NetAddr : null;
  }

  /** Starts listening and dialling. Throws if the listen address is unavailable. */
  start(): void {
    if (this.#closed || this.#listener) return;
    this.#listener = Deno.listen({
      hostname: this.#o.listenAddress,
      port: this.#o.listenPort,
      transport: "tcp",
    });
    this.#track(this.#acceptLoop(this.#listener));
    for (const rec of this.#peers.values()) this.#scheduleDial(rec, this.#firstDelay(rec));
    this.#heartbeat = setInterval(() => this.#beat(), this.#o.heartbeatMs);
  }

  /** Replaces the set of peers (config reload): removed or moved peers are disconnected. */
  updatePeers(list: PeerEndpoint[]): void {
    const next = new Map(list.map((p) => [p.name, p]));
    for (const [name, rec] of this.#peers) {
      const n = next.get(name);
      if (n && n.address === rec.endpoint.address && n.port === rec.endpoint.port) continue;
      rec.removed = true;
      if (rec.dialTimer) clearTimeout(rec.dialTimer);
      rec.dialTimer = null;
      this.#endSession(rec, n ? "peer moved by config reload" : "peer removed by config reload");
      this.#peers.delete(name);
      this.#byAddress.get(rec.canonical)?.delete(name);
    }
    for (const p of list) {
      if (this.#peers.has(p.name)) continue;
      const rec = this.#addPeer(p);
      if (this.#listener) this.#scheduleDial(rec, this.#firstDelay(rec));
    }
  }

  /** Sends a sealed message on the peer's current session; false when there is none. */
  send(peer: string, msg: ControlMessage | Record<string, unknown>): boolean {
    const rec = this.#peers.get(peer);
    if (!rec?.session || typeof msg.type !== "string") return false;
    return this.#sendOn(rec, rec.session, msg as ControlMessage);
  }

  /** Per-peer state and counters, and dropped bad input by reason. */
  status(): PeerConnectionsStatus {
    const now = Date.now();
    const peers: Record<string, PeerStatus> = {};
    for (const [name, r] of this.#peers) {
      peers[name] = {
        state: r.state,
        address: `${r.endpoint.address}:${r.endpoint.port}`,
        since: r.since,
        sinceSeconds: Math.round((now - r.since) / 1000),
        handshakeAgeSeconds: r.session ? Math.round((now - r.session.establishedAt) / 1000) : null,
        rttMs: r.rttMs === null ? null : Math.round(r.rttMs * 1000) / 1000,
        sessionId: r.session?.secrets.id ?? null,
        authenticated: r.session?.secrets.authenticated ?? null,
        counters: { ...r.counters },
        lastError: r.lastError,
      };
    }
    return {
      peers,
      drops: { ...this.#drops },
      pendingHandshakes: this.#pending,
      duplicatesClosed: this.#duplicates,
    };
  }

  /** Closes the listener and every connection; resolves when all their tasks have ended. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#abort.abort();
      if (this.#heartbeat) clearInterval(this.#heartbeat);
      try {
        this.#listener?.close();
      } catch {
        // Already closed.
      }
      for (const rec of this.#peers.values()) {
        if (rec.dialTimer) clearTimeout(rec.dialTimer);
        rec.dialTimer = null;
        if (rec.session) rec.session.closed = true;
      }
      for (const s of this.#streams) s.close();
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  // ---- peers ----

  #addPeer(endpoint: PeerEndpoint): PeerRecord {
    const rec: PeerRecord = {
      endpoint,
      canonical: canonicalAddress(endpoint.address),
      state: "connecting",
      since: Date.now(),
      session: null,
      rttMs: null,
      lastError: null,
      attempts: 0,
      dialTimer: null,
      dialing: false,
      inbound: 0,
      deferred: false,
      removed: false,
      counters: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    };
    this.#peers.set(endpoint.name, rec);
    let names = this.#byAddress.get(rec.canonical);
    if (!names) this.#byAddress.set(rec.canonical, names = new Set());
    names.add(endpoint.name);
    return rec;
  }

  #setState(rec: PeerRecord, state: PeerStateName): void {
    if (rec.state === state) return;
    rec.state = state;
    rec.since = Date.now();
  }

  #decides(peer: string): boolean {
    return isDecider(this.#o.localName, peer);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p)).catch(() => {});
    return p;
  }

  #drop(reason: DropReason, key: string, msg: string, level: "warn" | "error" = "warn"): void {
    this.#drops[reason]++;
    this.#limited.log(level, `${reason}:${key}`, msg, { reason });
  }

  // ---- dialling ----

  #firstDelay(rec: PeerRecord): number {
    if (this.#decides(rec.endpoint.name)) return 0;
    return this.#o.deferDialMs * (1 + Math.random());
  }

  #backoff(rec: PeerRecord): number {
    const exp = Math.min(
      this.#o.backoffMaxMs,
      this.#o.backoffBaseMs * 2 ** Math.min(Math.max(rec.attempts - 1, 0), 16),
    );
    return exp / 2 + Math.random() * exp / 2;
  }

  #scheduleDial(rec: PeerRecord, delay: number): void {
    if (this.#closed || rec.removed || rec.dialTimer || rec.session || rec.dialing) return;
    rec.dialTimer = setTimeout(() => {
      rec.dialTimer = null;
      this.#track(this.#dial(rec));
    }, delay);
  }

  async #dial(rec: PeerRecord): Promise<void> {
    if (this.#closed || rec.removed || rec.session || rec.dialing) return;
    const alone = this.#byAddress.get(rec.canonical)?.size === 1;
    const incoming = rec.inbound > 0 ||
      (alone && (this.#pendingBySource.get(rec.canonical) ?? 0) > 0);
    if (incoming && !rec.deferred) {
      // The peer is connecting to us already: a second connection would only be its twin. Only
      // once in a row, so stalled connections from that address cannot keep us from dialling.
      rec.deferred = true;
      this.#scheduleDial(rec, this.#o.handshakeTimeoutMs / 2);
      return;
    }
    rec.deferred = false;
    rec.dialing = true;
    rec.attempts++;
    const started = Date.now();
    try {
      if (rec.state !== "up") this.#setState(rec, this.#sticky(rec) ?? "connecting");
      const local = WILDCARDS.has(this.#o.listenAddress) ? undefined : this.#o.listenAddress;
      let stream: ByteStream;
      try {
        stream = await dialTcp({
          hostname: rec.endpoint.address,
          port: rec.endpoint.port,
          localAddress: local,
          timeoutMs: this.#o.handshakeTimeoutMs,
          signal: this.#abort.signal,
        });
      } catch (e) {
        rec.lastError = `connect to ${rec.endpoint.address}:${rec.endpoint.port}: ${message(e)}`;
        this.#log.debug("dial failed", { peer: rec.endpoint.name, error: rec.lastError });
        return;
      }
      if (this.#closed || rec.removed) {
        stream.close();
        return;
      }
      const left = this.#o.handshakeTimeoutMs - (Date.now() - started);
      await this.#runConnection(stream, rec.endpoint.address, rec, Math.max(left, 1000));
    } finally {
      rec.dialing = false;
      if (!rec.session) this.#scheduleDial(rec, this.#backoff(rec));
    }
  }

  /** States that describe a configuration problem outlive transient connecting/handshaking. */
  #sticky(rec: PeerRecord): PeerStateName | null {
    return rec.state === "auth-failed" || rec.state === "version-mismatch" ? rec.state : null;
  }

  // ---- accepting ----

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (this.#closed || e instanceof Deno.errors.BadResource) return;
        // Out of file descriptors and the like: keep listening once the pressure is off.
        this.#limited.log("error", "accept", "accepting a control connection failed", {
          error: message(e),
        });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      this.#onAccept(conn);
    }
  }

  #onAccept(conn: Deno.TcpConn): void {
    const from = canonicalAddress((conn.remoteAddr as Deno.NetAddr).hostname);
    if (this.#closed) {
      conn.close();
      return;
    }
    // Cheap refusals first: no key exchange for addresses that no configured peer has.
    if (!this.#byAddress.get(from)?.size) {
      conn.close();
      // One rate-limit key for all unknown addresses: there can be any number of them.
      this.#drop(
        "unknown-peer",
        "unconfigured address",
        `refused control connection from ${from}: no peer in weave.yaml has that address`,
      );
      return;
    }
    const fromSource = this.#pendingBySource.get(from) ?? 0;
    if (
      this.#pending >= this.#o.maxPendingHandshakes || fromSource >= this.#o.maxPendingPerSource
    ) {
      conn.close();
      this.#drop(
        "too-many-pending",
        from,
        `refused control connection from ${from}: too many unauthenticated connections`,
      );
      return;
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // Already reset by the peer: the handshake will notice.
    }
    this.#track(this.#runConnection(new DenoConnStream(conn), from, null, 0));
  }

  /** Who may claim `name` from `from`: null admits, a string is the refusal. */
  #admit(name: string, from: string): string | null {
    const rec = this.#peers.get(name);
    if (!rec) return `peer name ${name} is not in weave.yaml of ${this.#o.localName}`;
    if (rec.canonical !== from) {
      return `peer ${name} must connect from ${rec.endpoint.address}, not ${from}`;
    }
    return null;
  }

  // ---- one connection ----

  /**
   * Handshake, agreement and (on "keep") installation of one connection. `dialled` is the
   * peer we dialled, or null for an accepted connection.
   */
  async #runConnection(
    stream: ByteStream,
    remote: string,
    dialled: PeerRecord | null,
    timeoutMs: number,
  ): Promise<void> {
    const started = Date.now();
    this.#streams.add(stream);
    // Only accepted connections count against the caps on unauthenticated connections.
    if (!dialled) {
      this.#pending++;
      this.#pendingBySource.set(remote, (this.#pendingBySource.get(remote) ?? 0) + 1);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stream.close();
    }, timeoutMs || this.#o.handshakeTimeoutMs);
    let peerName = dialled?.endpoint.name ?? null;
    let installed = false;
    let inboundOf: PeerRecord | undefined;
    const reader = new FrameReader(stream, MAX_FRAME_BYTES + 4);
    try {
      const hs = await runHandshake({
        stream,
        reader,
        role: dialled ? "dialer" : "listener",
        localName: this.#o.localName,
        password: this.#o.password,
        remoteAddress: remote,
        expectedPeer: dialled?.endpoint.name,
        versions: this.#o.versions,
        admit: (name) => this.#admit(name, remote),
        onIdentified: (name) => {
          peerName = name;
          const rec = this.#peers.get(name);
          if (rec && !dialled) (inboundOf = rec).inbound++;
          if (rec && !rec.session && !this.#sticky(rec)) this.#setState(rec, "handshaking");
        },
      });
      const rec = this.#peers.get(hs.peerName);
      if (!rec || rec.removed || (dialled && rec !== dialled)) {
        throw new WireError("unknown-peer", `peer ${hs.peerName} was removed from the config`);
      }
      const verdict = await agreeOnSession(hs, {
        stream,
        reader,
        decider: this.#decides(hs.peerName),
        remoteAddress: remote,
        decide: () => {
          const s = rec.session;
          // A session younger than a handshake can take was made by a simultaneous dial: this
          // connection is its twin. An older one is stale (the peer lost it and redialled).
          const twin = s !== null &&
            Date.now() - s.establishedAt < this.#o.handshakeTimeoutMs + 1000;
          return twin ? "duplicate" : "keep";
        },
      });
      clearTimeout(timer);
      if (this.#closed || rec.removed) throw new WireError("truncated", "shutting down");
      if (verdict === "duplicate") {
        this.#duplicates++;
        this.#log.debug("closed a duplicate connection", { peer: hs.peerName });
        stream.close();
        return;
      }
      installed = true;
      this.#install(rec, stream, reader, {
        channel: hs.channel,
        secrets: {
          sessionKey: hs.sessionKey,
          dialerNonce: hs.dialerNonce,
          listenerNonce: hs.listenerNonce,
          localIsDialer: hs.localIsDialer,
          authenticated: hs.authenticated,
          id: nextSessionId++,
        },
      });
    } catch (e) {
      this.#onConnectionFailed(e, timedOut, remote, peerName, dialled, started);
    } finally {
      clearTimeout(timer);
      if (inboundOf) inboundOf.inbound--;
      if (!dialled) {
        this.#pending--;
        const left = (this.#pendingBySource.get(remote) ?? 1) - 1;
        if (left > 0) this.#pendingBySource.set(remote, left);
        else this.#pendingBySource.delete(remote);
      }
      if (!installed) {
        stream.close();
        this.#streams.delete(stream);
      }
    }
  }

  #onConnectionFailed(
    e: unknown,
    timedOut: boolean,
    remote: string,
    peerName: string | null,
    dialled: PeerRecord | null,
    started: number,
  ): void {
    if (this.#closed) return;
    const err = timedOut
      ? new WireError("timeout", `handshake did not complete in ${Date.now() - started} ms`)
      : e instanceof WireError
      ? e
      : new WireError("truncated", `connection failed: ${message(e)}`);
    const rec = peerName ? this.#peers.get(peerName) : undefined;
    // The pair got its session on another connection meanwhile: this one is just its twin.
    if (rec?.session && rec.session.establishedAt >= started && err.reason !== "auth") {
      this.#log.debug("connection ended after the session came up elsewhere", {
        peer: peerName,
        error: err.message,
      });
      return;
    }
    const key = peerName ?? remote;
    switch (err.reason) {
      case "auth": {
        if (rec?.session) {
          // A live session proves the password matches: this was a replay or tampering.
          this.#drop(
            "auth",
            key,
            `key confirmation failed on a new connection from ${remote} claiming ${peerName} ` +
              `(replayed or tampered handshake); the current session stays`,
          );
          return;
        }
        this.#drops.auth++;
        // The exact text operators grep for; no fields after it.
        this.#limited.log("error", `auth:${key}`, err.message);
        if (rec) {
          rec.lastError = err.message;
          this.#setState(rec, "auth-failed");
          this.dispatchEvent(
            new CustomEvent("auth-failed", {
              detail: { peer: rec.endpoint.name, address: remote },
            }),
          );
        }
        return;
      }
      case "refused": {
        if (rec) rec.lastError = err.message;
        this.#limited.log("warn", `refused:${key}`, err.message);
        return;
      }
      case "bad-version": {
        const target = rec ?? this.#onlyPeerAt(remote);
        if (target) {
          target.lastError = err.message;
          if (!target.session) this.#setState(target, "version-mismatch");
        }
        this.#drop(
          "bad-version",
          key,
          `control connection with ${remote}: ${err.message}`,
          "error",
        );
        return;
      }
      default: {
        if (rec) {
          rec.lastError = err.message;
          if (!rec.session && !this.#sticky(rec)) {
            this.#setState(rec, dialled ? "connecting" : "down");
          }
        }
        this.#drop(
          err.reason,
          key,
          `control connection ${dialled ? "to" : "from"} ${remote}${
            peerName ? ` (${peerName})` : ""
          } dropped: ${err.message}`,
        );
      }
    }
  }

  #onlyPeerAt(address: string): PeerRecord | undefined {
    const names = this.#byAddress.get(canonicalAddress(address));
    return names?.size === 1 ? this.#peers.get([...names][0]) : undefined;
  }

  // ---- sessions ----

  #install(
    rec: PeerRecord,
    stream: ByteStream,
    reader: FrameReader,
    s: { channel: SecureChannel; secrets: SessionSecrets },
  ): void {
    if (rec.session) this.#endSession(rec, "replaced by a new session", false);
    const now = Date.now();
    const session: Session = {
      stream,
      reader,
      channel: s.channel,
      secrets: s.secrets,
      establishedAt: now,
      lastRx: now,
      closed: false,
      queue: Promise.resolve(),
      queuedBytes: 0,
    };
    if (rec.dialTimer) clearTimeout(rec.dialTimer);
    rec.dialTimer = null;
    rec.session = session;
    rec.attempts = 0;
    rec.lastError = null;
    rec.rttMs = null;
    this.#setState(rec, "up");
    this.#log.debug("session established", {
      peer: rec.endpoint.name,
      session: s.secrets.id,
      dialer: s.secrets.localIsDialer ? this.#o.localName : rec.endpoint.name,
    });
    this.#track(this.#readLoop(rec, session));
    this.dispatchEvent(
      new CustomEvent("session-up", {
        detail: {
          peer: rec.endpoint.name,
          secrets: s.secrets,
          remoteAddress: rec.endpoint.address,
        },
      }),
    );
  }

  async #readLoop(rec: PeerRecord, s: Session): Promise<void> {
    let reason = "connection closed by the peer";
    try {
      while (!s.closed) {
        const body = await s.reader.frame(MAX_FRAME_BYTES, TAG_BYTES);
        if (body === null) break;
        const msg = s.channel.open(body);
        s.lastRx = Date.now();
        rec.counters.messagesIn++;
        rec.counters.bytesIn += body.length + 4;
        if (msg.type === "heartbeat") {
          this.#sendOn(rec, s, { type: "heartbeat-ack", t: msg.t });
        } else if (msg.type === "heartbeat-ack") {
          const t = msg.t;
          const now = performance.now();
          if (typeof t === "number" && Number.isFinite(t) && t <= now) rec.rttMs = now - t;
        } else {
          this.dispatchEvent(
            new CustomEvent("message", { detail: { peer: rec.endpoint.name, msg } }),
          );
        }
      }
    } catch (e) {
      if (s.closed) return;
      if (e instanceof WireError && e.reason !== "refused") {
        this.#drop(e.reason, rec.endpoint.name, `session with ${rec.endpoint.name}: ${e.message}`);
        reason = e.message;
      } else {
        reason = `connection failed: ${message(e)}`;
      }
    }
    if (rec.session === s) this.#endSession(rec, reason);
  }

  #endSession(rec: PeerRecord, reason: string, redial = true): void {
    const s = rec.session;
    if (!s) return;
    s.closed = true;
    s.stream.close();
    this.#streams.delete(s.stream);
    rec.session = null;
    rec.rttMs = null;
    rec.lastError = reason;
    this.#setState(rec, "down");
    this.dispatchEvent(
      new CustomEvent("session-down", { detail: { peer: rec.endpoint.name, reason } }),
    );
    if (redial && !this.#closed && !rec.removed) {
      this.#scheduleDial(rec, this.#firstDelay(rec) + this.#backoff(rec));
    }
  }

  #sendOn(rec: PeerRecord, s: Session, msg: ControlMessage): boolean {
    if (s.closed) return false;
    let frame: Uint8Array;
    try {
      frame = s.channel.seal(msg);
    } catch (e) {
      this.#log.error("control message not sent", { peer: rec.endpoint.name, error: message(e) });
      return false;
    }
    if (s.queuedBytes + frame.length > this.#o.maxQueuedBytes) {
      this.#endSession(rec, `peer is not reading (${s.queuedBytes} bytes queued)`);
      return false;
    }
    rec.counters.messagesOut++;
    rec.counters.bytesOut += frame.length;
    s.queuedBytes += frame.length;
    s.queue = s.queue.then(async () => {
      if (s.closed) return;
      await s.stream.write(frame);
      s.queuedBytes -= frame.length;
    }).catch((e) => {
      if (rec.session === s) this.#endSession(rec, `write failed: ${message(e)}`);
    });
    return true;
  }

  #beat(): void {
    const now = Date.now();
    for (const rec of this.#peers.values()) {
      const s = rec.session;
      if (!s) continue;
      if (now - s.lastRx > this.#o.deadAfterMs) {
        this.#drops.timeout++;
        this.#endSession(rec, `nothing received for ${now - s.lastRx} ms`);
        continue;
      }
      this.#sendOn(rec, s, { type: "heartbeat", t: performance.now() });
    }
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
