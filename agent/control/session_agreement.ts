/**
 * One TCP connection, dialled or accepted, from its first byte to a verdict: the handshake of
 * `handshake.ts`, then the pair's agreement on whether this connection becomes its session
 * ("keep") or is the twin of one made by a simultaneous dial ("duplicate"); then, on "keep",
 * installation as the session. A failed connection is classified once here: counted as a drop,
 * logged at a bounded rate, and reflected in the peer's state.
 *
 * @module
 */

import { admitName } from "./name_admission.ts";
import { type ControlContext, errorMessage } from "./context.ts";
import { FrameReader, MAX_FRAME_BYTES } from "./frame_reader.ts";
import { agreeOnSession, classifyAuthFailure, HandshakeError, runHandshake } from "./handshake.ts";
import { logPeerFailure } from "./episode_log.ts";
import { type PeerRecord, setState, stickyState } from "./peer_record.ts";
import { installSession, sessionHeartbeatMs } from "./session.ts";
import type { ByteStream } from "./tcp_stream.ts";
import { WireError } from "./wire_error.ts";

/**
 * A session made up to this long before a connection started still counts as its twin: the two
 * ends start their dials at slightly different moments, and an accepted connection's start is
 * when it was accepted, after the peer's dial began.
 */
const TWIN_MARGIN_MS = 1000;

/**
 * The side that does not decide waits this many times the deadline: the decider installs the
 * session as it sends "keep", so it must be the one to give up first. Were the other side to
 * time out between its "ready" and the decider's "keep", the decider would hold a session the
 * other end already closed, and the pair would pay a session-down and another handshake.
 */
const FOLLOWER_DEADLINE_FACTOR = 2;

/**
 * A handshake whose peer keeps answering may run this many times its deadline in all. On a
 * starved box (a hundred agents starting at once on two cores) every step is slow but the
 * handshake still moves: in such a lab, of the dialled handshakes that hit a fixed 5 s
 * deadline, 85% had heard the peer within the last 1–4 s (median 2.6 s), so the work of both
 * ends was thrown away and redone. The deadline now counts from the peer's last bytes. The cap
 * keeps a peer that drips bytes from holding an unauthenticated connection for long: three
 * deadlines instead of one, under the same caps on pending connections (per source and in all).
 */
export const PROGRESS_DEADLINE_FACTOR = 3;

/**
 * When a handshake started at `started` expires: `windowMs` after the peer's last bytes (or
 * the start), and never later than `PROGRESS_DEADLINE_FACTOR` windows after the start.
 */
export function handshakeExpiry(started: number, lastInAt: number, windowMs: number): number {
  return Math.min(
    Math.max(started, lastInAt) + windowMs,
    started + windowMs * PROGRESS_DEADLINE_FACTOR,
  );
}

let nextSessionId = 1;

/** How one connection ended: it became the session, was a twin, timed out, or failed. */
export type ConnectionOutcome = "session" | "duplicate" | "timeout" | "failed";

/**
 * A connection carried by relays (#16): the peer it is with (an accepted one must name exactly
 * that peer), and its first relay. `remote` is then a label (`edge-2 via edge-3`), not an address.
 */
export interface RelayedConnection {
  peer: string;
  via: string;
}

/**
 * Handshake, agreement and (on "keep") installation of one connection. `dialled` is the peer
 * we dialled, or null for an accepted connection; `timeoutMs` bounds the whole exchange.
 */
export async function runConnection(
  ctx: ControlContext,
  stream: ByteStream,
  remote: string,
  dialled: PeerRecord | null,
  timeoutMs: number,
  relayed: RelayedConnection | null = null,
): Promise<ConnectionOutcome> {
  const started = Date.now();
  ctx.streams.add(stream);
  const reader = new FrameReader(stream, MAX_FRAME_BYTES + 4);
  const follows = (peer: string) => !ctx.decides(peer);
  // The deadline of this side: how long the peer may stay silent, counted from the start or
  // from its last bytes, and at most PROGRESS_DEADLINE_FACTOR times that in all.
  let windowMs = dialled && follows(dialled.endpoint.name)
    ? timeoutMs * FOLLOWER_DEADLINE_FACTOR
    : timeoutMs;
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    const at = handshakeExpiry(started, reader.lastInAt, windowMs);
    timer = setTimeout(expire, Math.max(0, at - Date.now()));
  };
  const expire = () => {
    if (handshakeExpiry(started, reader.lastInAt, windowMs) > Date.now()) return arm();
    timedOut = true;
    stream.close();
  };
  arm();
  let peerName = dialled?.endpoint.name ?? null;
  let installed = false;
  let inboundOf: PeerRecord | undefined;
  if (dialled) dialled.stats.handshakes++;
  try {
    const hs = await runHandshake({
      stream,
      reader,
      role: dialled ? "dialer" : "listener",
      localName: ctx.o.localName,
      password: ctx.o.password,
      previousPassword: ctx.o.previousPassword,
      nodeKey: ctx.o.nodeKey,
      peerKey: (name) => ctx.peers.get(name)?.endpoint.key ?? null,
      admitKeyExchange: () => {
        const v = ctx.handshakeRate.admit(remote);
        return v === "ok" ? null : `handshake rate limit (${v}); retry later`;
      },
      remoteAddress: remote,
      expectedPeer: dialled?.endpoint.name,
      versions: ctx.o.versions,
      admit: (name) =>
        relayed === null
          ? admitName(ctx, name, remote)
          : name === relayed.peer && ctx.peers.get(name)
          ? null
          : `relayed connection from ${relayed.peer} claims the name ${name}`,
      onIdentified: (name) => {
        peerName = name;
        if (!dialled && follows(name)) {
          windowMs = timeoutMs * FOLLOWER_DEADLINE_FACTOR;
          arm();
        }
        const rec = ctx.peers.get(name);
        if (rec && !dialled) {
          (inboundOf = rec).inbound++;
          rec.lastInboundAt = Date.now();
          rec.stats.handshakes++;
        }
        if (rec && !rec.session && !stickyState(rec)) setState(rec, "handshaking");
      },
    });
    const rec = ctx.peers.get(hs.peerName);
    if (!rec || rec.removed || (dialled && rec !== dialled)) {
      throw new WireError("unknown-peer", `peer ${hs.peerName} was removed from the config`);
    }
    const verdict = await agreeOnSession(hs, {
      stream,
      reader,
      decider: ctx.decides(hs.peerName),
      remoteAddress: remote,
      decide: () => {
        const s = rec.session;
        // A session made while this connection was under way came from a simultaneous dial:
        // this connection is its twin. One made before it started is stale (the peer lost it
        // and redialled). Counted from this connection's own start, not as "younger than a
        // handshake takes": on a loaded box handshakes take longer than the configured deadline
        // (it stretches with the loop lag), and a twin that finished 6 s after its session
        // replaced it (a 100-agent lab: 8–16 such session-downs once the mesh was up).
        const twin = s !== null && s.establishedAt >= started - TWIN_MARGIN_MS;
        // A relayed connection never replaces a direct session that is still heard (#16).
        const heard = relayed !== null && s !== null && s.via === null &&
          Date.now() - s.lastRx < sessionHeartbeatMs(ctx, rec, s) * 2;
        return twin || heard ? "duplicate" : "keep";
      },
    });
    clearTimeout(timer);
    if (ctx.closed() || rec.removed) throw new WireError("truncated", "shutting down");
    if (verdict === "duplicate") {
      ctx.duplicates++;
      ctx.log.debug("closed a duplicate connection", { peer: hs.peerName });
      return "duplicate";
    }
    installed = true;
    installSession(ctx, rec, stream, reader, {
      channel: hs.channel,
      secrets: {
        sessionKey: hs.sessionKey,
        dialerNonce: hs.dialerNonce,
        listenerNonce: hs.listenerNonce,
        localIsDialer: hs.localIsDialer,
        authenticated: hs.authenticated,
        id: nextSessionId++,
        keys: hs.keys,
        transcriptHash: hs.transcriptHash,
        password: hs.password,
        peerProvedKey: hs.peerProvedKey,
      },
    }, relayed?.via ?? null);
    return "session";
  } catch (e) {
    const err = timedOut
      ? new WireError(
        "timeout",
        `handshake did not complete in ${Date.now() - started} ms (${heard(reader, started)})`,
      )
      : e instanceof WireError
      ? e
      : new WireError("truncated", `connection failed: ${errorMessage(e)}`);
    if (!ctx.closed()) connectionFailed(ctx, err, { remote, peerName, dialled, started });
    return timedOut ? "timeout" : "failed";
  } finally {
    clearTimeout(timer);
    if (inboundOf) inboundOf.inbound--;
    if (!installed) {
      stream.close();
      ctx.streams.delete(stream);
    }
  }
}

/**
 * What a timed-out handshake had heard from the peer: nothing (the peer never answered: down,
 * blocked, or too busy to take the connection), or when, after the start, its last bytes came
 * (a peer that answered but was slow to finish).
 */
function heard(reader: FrameReader, started: number): string {
  if (reader.bytesIn === 0) return "the peer sent nothing";
  return `the peer's last bytes came ${reader.lastInAt - started} ms in`;
}

interface FailedConnection {
  remote: string;
  peerName: string | null;
  dialled: PeerRecord | null;
  started: number;
}

/** Counts, logs and records one failed connection, by the reason it failed. */
function connectionFailed(ctx: ControlContext, err: WireError, c: FailedConnection): void {
  const rec = c.peerName ? ctx.peers.get(c.peerName) : undefined;
  // The pair got its session on another connection meanwhile: this one is just its twin.
  if (rec?.session && rec.session.establishedAt >= c.started && err.reason !== "auth") {
    ctx.log.debug("connection ended after the session came up elsewhere", {
      peer: c.peerName,
      error: err.message,
    });
    return;
  }
  const key = c.peerName ?? c.remote;
  switch (err.reason) {
    case "auth":
      return authFailed(ctx, err, c, rec);
    case "too-many-pending":
      // The handshake rate limit: logged under the same key as admission's caps.
      ctx.drops.drop(
        "too-many-pending",
        c.remote,
        `refused control connection from ${err.message}`,
      );
      return;
    case "refused": {
      if (rec) rec.lastError = err.message;
      ctx.drops.log("warn", `refused:${key}`, err.message);
      return;
    }
    case "bad-version": {
      const target = rec ?? ctx.peers.onlyPeerAt(c.remote);
      if (target) {
        target.lastError = err.message;
        if (!target.session) setState(target, "version-mismatch");
      }
      ctx.drops.drop(
        "bad-version",
        key,
        `control connection with ${c.remote}: ${err.message}`,
        "error",
      );
      return;
    }
    default: {
      const what = `control connection ${c.dialled ? "to" : "from"} ${c.remote}`;
      if (!rec) {
        ctx.drops.drop(err.reason, key, `${what} dropped: ${err.message}`);
        return;
      }
      // A configured peer: counted, and logged at warn once per episode (episode_log.ts).
      ctx.drops.count(err.reason);
      if (!rec.session && !stickyState(rec)) setState(rec, c.dialled ? "connecting" : "down");
      logPeerFailure(ctx.log, rec, `${what} (${rec.endpoint.name}) dropped: ${err.message}`);
    }
  }
}

function authFailed(
  ctx: ControlContext,
  err: WireError,
  c: FailedConnection,
  rec: PeerRecord | undefined,
): void {
  const key = c.peerName ?? c.remote;
  // Only a proved node key, or a dial to the configured address of a keyless peer, says the
  // failure was the real peer's; anything else must not touch that peer's state (#14).
  const view = err instanceof HandshakeError
    ? classifyAuthFailure(err, { dialled: c.dialled !== null, remoteAddress: c.remote })
    : null;
  if (view && !view.genuine) {
    // Keyed by address, so that it never uses up the rate-limited log of a genuine mismatch.
    ctx.drops.drop("auth", c.remote, view.message);
    return;
  }
  if (rec?.session) {
    // A live session proves the password matches: this was a replay or tampering.
    ctx.drops.drop(
      "auth",
      key,
      `key confirmation failed on a new connection from ${c.remote} claiming ${c.peerName} ` +
        `(replayed or tampered handshake); the current session stays`,
    );
    return;
  }
  ctx.drops.count("auth");
  // The exact text operators grep for; no fields after it.
  ctx.drops.log("error", `auth:${key}`, view?.message ?? err.message);
  if (!rec) return;
  rec.lastError = err.message;
  setState(rec, "auth-failed");
  ctx.events.onAuthFailed?.({ peer: rec.endpoint.name, address: c.remote });
}
