/**
 * The life of an established session: installed once the pair agreed on a connection, read
 * frame by frame (heartbeats answered here, everything else handed to the owner), written in
 * order with a bound on queued bytes, checked for silence on every heartbeat, and ended once.
 *
 * @module
 */

import { type ControlContext, errorMessage } from "./context.ts";
import { backoffDelay, firstDialDelay } from "./dial_delay.ts";
import { endEpisode } from "./episode_log.ts";
import type { FrameReader } from "./frame_reader.ts";
import { MAX_FRAME_BYTES } from "./frame_reader.ts";
import { type PeerRecord, type Session, setState } from "./peer_record.ts";
import { type ControlMessage, type SecureChannel, TAG_BYTES } from "./secure_channel.ts";
import type { SessionSecrets } from "./session_keys.ts";
import type { ByteStream } from "./tcp_stream.ts";
import { WireError } from "./wire_error.ts";
import { announcedPeriodMs, stretchedSilenceMs } from "./heartbeat_period.ts";
import { deadAfterNowMs } from "./options.ts";

/** Makes the agreed connection the peer's session and starts reading it. */
export function installSession(
  ctx: ControlContext,
  rec: PeerRecord,
  stream: ByteStream,
  reader: FrameReader,
  s: { channel: SecureChannel; secrets: SessionSecrets },
  via: string | null = null,
): void {
  if (rec.session) endSession(ctx, rec, "replaced by a new session", false);
  const now = Date.now();
  const session: Session = {
    stream,
    reader,
    channel: s.channel,
    secrets: s.secrets,
    establishedAt: now,
    lastRx: now,
    lastOtherRx: -Infinity,
    lastOtherTx: -Infinity,
    closed: false,
    outbox: [],
    writing: false,
    queuedBytes: 0,
    silentTicks: 0,
    peerHeartbeatMs: null,
    announcedMs: null,
    skippedHeartbeats: 0,
    via,
  };
  // A relayed session (#16) keeps the direct dials (and their backoff) going.
  if (via === null) ctx.cancelDial(rec);
  endEpisode(ctx.log, rec);
  rec.session = session;
  if (via === null) rec.attempts = rec.unreached = 0;
  rec.lastError = null;
  rec.rttMs = null;
  rec.stats.sessionsUp++;
  setState(rec, "up");
  ctx.log.debug("session established", {
    peer: rec.endpoint.name,
    session: s.secrets.id,
    dialer: s.secrets.localIsDialer ? ctx.o.localName : rec.endpoint.name,
    ...(via !== null ? { via } : {}),
  });
  ctx.track(readLoop(ctx, rec, session));
  ctx.events.onSessionUp?.({
    peer: rec.endpoint.name,
    secrets: s.secrets,
    remoteAddress: stream.remote ?? rec.endpoint.address,
    via,
  });
  // The decider's first heartbeat goes out now (after what the owner sends at session up, so
  // the datapath negotiation is not queued behind it), not at its next tick: it announces the
  // period the peer judges this session's silence by, and the next tick may be a whole
  // stretched period (up to 15 s) away, past the silence the peer allows before it knows it.
  if (ctx.decides(rec.endpoint.name) && !session.closed) sendHeartbeat(ctx, rec, session);
  if (via !== null && !ctx.closed() && !rec.removed) {
    ctx.scheduleDial(rec, backoffDelay(rec.attempts, ctx.o.backoffBaseMs, ctx.o.backoffMaxMs));
  }
}

async function readLoop(ctx: ControlContext, rec: PeerRecord, s: Session): Promise<void> {
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
        sendOn(ctx, rec, s, { type: "heartbeat-ack", t: msg.t });
        s.peerHeartbeatMs = announcedPeriodMs(msg.p, ctx.o.heartbeatMs);
        // The decider measures the round trip and tells us in its next heartbeat.
        if (typeof msg.rtt === "number" && Number.isFinite(msg.rtt) && msg.rtt >= 0) {
          rec.rttMs = msg.rtt;
        }
      } else if (msg.type === "heartbeat-ack") {
        const t = msg.t;
        const now = performance.now();
        if (typeof t === "number" && Number.isFinite(t) && t <= now) rec.rttMs = now - t;
      } else {
        s.lastOtherRx = s.lastRx;
        ctx.events.onMessage?.({ peer: rec.endpoint.name, msg });
      }
    }
  } catch (e) {
    if (s.closed) return;
    if (e instanceof WireError && e.reason !== "refused") {
      ctx.drops.drop(
        e.reason,
        rec.endpoint.name,
        `session with ${rec.endpoint.name}: ${e.message}`,
      );
      reason = e.message;
    } else {
      reason = `connection failed: ${errorMessage(e)}`;
    }
  }
  if (rec.session === s) endSession(ctx, rec, reason);
}

/** Ends the peer's session, tells the owner, and (unless told not to) schedules a redial. */
export function endSession(ctx: ControlContext, rec: PeerRecord, reason: string, redial = true) {
  const s = rec.session;
  if (!s) return;
  s.closed = true;
  s.stream.close();
  ctx.streams.delete(s.stream);
  rec.session = null;
  rec.rttMs = null;
  rec.lastError = reason;
  rec.stats.sessionsDown++;
  setState(rec, "down");
  ctx.events.onSessionDown?.({ peer: rec.endpoint.name, reason });
  if (redial && !ctx.closed() && !rec.removed) ctx.scheduleDial(rec, redialDelay(ctx, rec));
}

/** After a lost session: the usual first-dial deferral plus a backoff step. */
function redialDelay(ctx: ControlContext, rec: PeerRecord): number {
  // A box nobody can dial (dial-out only, #15) redials at once, whichever side decides.
  const decides = ctx.decides(rec.endpoint.name) || ctx.o.dialOutOnly;
  return firstDialDelay(decides, ctx.o.deferDialMs, ctx.o.dialJitterMs) +
    backoffDelay(rec.attempts, ctx.o.backoffBaseMs, ctx.o.backoffMaxMs);
}

/** Seals and queues `msg` on session `s`; false when the session is closed or not reading. */
export function sendOn(
  ctx: ControlContext,
  rec: PeerRecord,
  s: Session,
  msg: ControlMessage,
): boolean {
  if (s.closed) return false;
  let frame: Uint8Array;
  try {
    frame = s.channel.seal(msg);
  } catch (e) {
    ctx.log.error("control message not sent", { peer: rec.endpoint.name, error: errorMessage(e) });
    return false;
  }
  if (s.queuedBytes + frame.length > ctx.o.maxQueuedBytes) {
    endSession(ctx, rec, `peer is not reading (${s.queuedBytes} bytes queued)`);
    return false;
  }
  rec.counters.messagesOut++;
  rec.counters.bytesOut += frame.length;
  if (msg.type !== "heartbeat" && msg.type !== "heartbeat-ack") s.lastOtherTx = Date.now();
  s.queuedBytes += frame.length;
  s.outbox.push(frame);
  if (!s.writing) {
    s.writing = true;
    // After this turn: whatever else this turn sends joins the same write.
    queueMicrotask(() => void writeOutbox(ctx, rec, s));
  }
  return true;
}

/**
 * Writes the session's outbox until it is empty: the frames waiting at each step go out as one
 * write, up to {@link WRITE_BATCH_BYTES} (frames sent while a write is under way join the next).
 */
async function writeOutbox(ctx: ControlContext, rec: PeerRecord, s: Session): Promise<void> {
  try {
    while (s.outbox.length > 0 && !s.closed) {
      const data = takeBatch(s);
      await s.stream.write(data);
      s.queuedBytes -= data.length;
    }
  } catch (e) {
    if (rec.session === s) endSession(ctx, rec, `write failed: ${errorMessage(e)}`);
  } finally {
    s.writing = false;
  }
}

/**
 * Most bytes copied into one write. A session's burst of small frames (its first messages, a
 * rekey step) fits whole; the records a 100-box fleet's gossip forwards (≈ 8 KB each, dozens to
 * one peer at once) go out a few per write, or alone, rather than as one fresh buffer of
 * hundreds of KB per flush: copying and zeroing those was 7% of an agent's CPU in that lab.
 */
export const WRITE_BATCH_BYTES = 16 * 1024;

/** The outbox's first frames, as one buffer of at most WRITE_BATCH_BYTES (or the first alone). */
function takeBatch(s: Session): Uint8Array {
  let n = 0;
  let count = 0;
  for (const f of s.outbox) {
    if (count > 0 && n + f.length > WRITE_BATCH_BYTES) break;
    n += f.length;
    count++;
  }
  const frames = s.outbox.splice(0, count);
  if (count === 1) return frames[0];
  const out = new Uint8Array(n);
  let off = 0;
  for (const f of frames) {
    out.set(f, off);
    off += f.length;
  }
  return out;
}

/**
 * One heartbeat tick, for every session at once (one timer for all peers): ends sessions that
 * stayed silent, and sends the heartbeats this side owes.
 *
 * Only the deciding side of a pair sends heartbeats (with the last round trip it measured, so
 * both ends show it); the other side answers each with an ack. That is one frame each way per
 * pair and period, and either side hears from the other once per period. A peer whose build
 * still sends heartbeats from both sides is answered all the same.
 *
 * Silence is counted in our own ticks, not only in wall time: a box so loaded that our timer
 * fired late must not declare its peers dead for its own slowness. A session ends when nothing
 * arrived for `deadAfterMs` (stretched for the session's period, heartbeat_period.ts) and for
 * at least as many of our ticks as that spans. The tick runs at this box's own period; each
 * heartbeat says it (`p`), so that the other side judges the pair by the decider's period.
 */
export function heartbeat(ctx: ControlContext): void {
  const now = Date.now();
  const tickMs = ctx.heartbeatMs();
  for (const rec of ctx.peers.values()) {
    const s = rec.session;
    if (!s) continue;
    const periodMs = sessionHeartbeatMs(ctx, rec, s);
    const deadAfter = deadAfterNowMs(ctx.o, periodMs);
    const silenceMs = stretchedSilenceMs(ctx.o.deadAfterMs, periodMs, ctx.o.heartbeatMs);
    const ticksToDie = Math.max(2, Math.ceil(silenceMs / tickMs));
    const silent = now - s.lastRx;
    s.silentTicks = silent >= tickMs ? s.silentTicks + 1 : 0;
    if (silent > deadAfter && s.silentTicks >= ticksToDie) {
      ctx.drops.count("timeout");
      endSession(ctx, rec, `nothing received for ${silent} ms`);
      continue;
    }
    if (!ctx.decides(rec.endpoint.name)) continue;
    if (heartbeatDue(s, now, tickMs)) sendHeartbeat(ctx, rec, s);
    else s.skippedHeartbeats++;
  }
}

/**
 * Most heartbeat ticks in a row a busy session may go without a heartbeat: the round trip the
 * heartbeats measure (routes weigh it) is then at most this many periods old.
 */
export const MAX_SKIPPED_HEARTBEATS = 4;

/**
 * Whether the deciding side's tick must send a heartbeat. Not when, within the last period,
 * the session carried frames other than heartbeats both ways (a converging fleet's gossip, a
 * datapath negotiation): each side has then heard from the other, which is all a heartbeat
 * proves, and on a 2-core box running a 50-agent lab each frame costs a wake-up at both ends.
 * Always when the period changed since the last one announced it (the peer judges silence by
 * it), and at least every `MAX_SKIPPED_HEARTBEATS + 1` ticks (the round trip stays fresh).
 */
export function heartbeatDue(
  s: Pick<Session, "lastOtherRx" | "lastOtherTx" | "announcedMs" | "skippedHeartbeats">,
  now: number,
  periodMs: number,
): boolean {
  if (s.announcedMs !== periodMs || s.skippedHeartbeats >= MAX_SKIPPED_HEARTBEATS) return true;
  return now - s.lastOtherRx >= periodMs || now - s.lastOtherTx >= periodMs;
}

/** One heartbeat on the session: our send time (for the RTT), the last RTT, our period. */
function sendHeartbeat(ctx: ControlContext, rec: PeerRecord, s: Session): void {
  const rtt = rec.rttMs === null ? undefined : Math.round(rec.rttMs * 1000) / 1000;
  const p = ctx.heartbeatMs();
  s.announcedMs = p;
  s.skippedHeartbeats = 0;
  sendOn(ctx, rec, s, { type: "heartbeat", t: performance.now(), rtt, p });
}

/**
 * The heartbeat period of the pair's session: ours where we decide (we send the heartbeats),
 * else the one the decider announced (the base until its first heartbeat).
 */
export function sessionHeartbeatMs(ctx: ControlContext, rec: PeerRecord, s: Session): number {
  if (ctx.decides(rec.endpoint.name)) return ctx.heartbeatMs();
  return s.peerHeartbeatMs ?? ctx.o.heartbeatMs;
}
