/**
 * Hole punching (#16) for pairs whose control session is relayed, in the order a pair walks it:
 *
 * 1. punching: the relay gossips where its sleeve sees each end (`Link.endpoint`: behind a NAT,
 *    the NAT's public mapping). Every `probeMs` each end sends one probe, a keepalive sealed
 *    under the pair's own session, straight to the other's endpoint (`Sleeve.punch`). The first
 *    probe out of a NAT opens its mapping for answers from that endpoint; once both have sent,
 *    probes get through both NATs.
 * 2. punched: an authenticated datagram from the peer arrived straight (the sleeve learned its
 *    endpoint from it, #15): the pair's datagrams now go straight to it, and keepalives every
 *    `keepaliveMs` hold both mappings open and prove the path (`status`: `direct (punched)`).
 * 3. back to the relay: nothing straight from the peer for `deadMs`: its datagrams go through
 *    the relay again; punching starts over after `retryMs`. After `maxProbes` unanswered probes
 *    the same pause applies (a NAT that maps per destination cannot be punched this way).
 *
 * The control session stays relayed throughout (TCP through two NATs is another matter); a
 * direct control session, when one comes, ends all of this. Timers: one tick, driven by the
 * relay service's. Pure bookkeeping over injected effects.
 *
 * @module
 */

/** Timing of hole punching. */
export interface PunchTiming {
  probeMs: number;
  maxProbes: number;
  /** Keepalive period while punched (what `deadMs` is measured against). */
  keepaliveMs: number;
  deadMs: number;
  retryMs: number;
}

/** Default timing. */
export const PUNCH_TIMING: PunchTiming = {
  probeMs: 1000,
  maxProbes: 20,
  keepaliveMs: 1000,
  deadMs: 4000,
  retryMs: 15_000,
};

/** An `ip:port` endpoint. */
export interface Endpoint {
  address: string;
  port: number;
}

/** What the punching needs from the agent. */
export interface PunchEffects {
  /** A candidate endpoint of the peer, from the gossip (the relay's view first). */
  candidate(peer: string, via: string): Endpoint | null;
  /** One probe straight to `at`. */
  probe(peer: string, at: Endpoint): void;
  /** Datagrams received straight from the peer so far (keepalives included). */
  straightIn(peer: string): number;
  /** The pair moved between punched and relayed: its sleeve entry must be pushed again. */
  changed(peer: string): void;
  log(msg: string, fields: Record<string, unknown>): void;
}

type Phase =
  | { kind: "punching"; probes: number; nextAt: number }
  | { kind: "punched"; seen: number; seenAt: number }
  | { kind: "paused"; until: number };

/** The punching of every relayed pair of one box. */
export class HolePunch {
  #pairs = new Map<string, { via: string; phase: Phase }>();
  readonly #t: PunchTiming;

  constructor(private readonly fx: PunchEffects, timing: Partial<PunchTiming> = {}) {
    this.#t = { ...PUNCH_TIMING, ...timing };
  }

  get timing(): PunchTiming {
    return this.#t;
  }

  /** The peer's session is relayed through `via` (null: it is not, or it ended). */
  setRelayed(peer: string, via: string | null, now: number): void {
    const had = this.#pairs.get(peer);
    if (via === null) {
      this.#pairs.delete(peer);
      if (had?.phase.kind === "punched") this.fx.changed(peer);
      return;
    }
    if (had?.via === via) return;
    this.#pairs.set(peer, { via, phase: { kind: "punching", probes: 0, nextAt: now } });
  }

  /** True while the pair's datagrams go straight. */
  punched(peer: string): boolean {
    return this.#pairs.get(peer)?.phase.kind === "punched";
  }

  /** The sleeve learned the peer's endpoint from an authentic datagram that came straight. */
  straightFrom(peer: string, now: number): void {
    const p = this.#pairs.get(peer);
    if (!p || p.phase.kind === "punched") return;
    p.phase = { kind: "punched", seen: this.fx.straightIn(peer), seenAt: now };
    this.fx.log("hole punched: datagrams go straight", { peer, via: p.via });
    this.fx.changed(peer);
  }

  /** One tick: probes due, punched paths that went quiet. */
  tick(now: number): void {
    for (const [peer, p] of this.#pairs) {
      const ph = p.phase;
      if (ph.kind === "paused") {
        if (now >= ph.until) p.phase = { kind: "punching", probes: 0, nextAt: now };
        continue;
      }
      if (ph.kind === "punched") {
        const seen = this.fx.straightIn(peer);
        if (seen !== ph.seen) {
          ph.seen = seen;
          ph.seenAt = now;
        } else if (now - ph.seenAt > this.#t.deadMs) {
          p.phase = { kind: "paused", until: now + this.#t.retryMs };
          this.fx.log("punched path quiet: back to the relay", { peer, via: p.via });
          this.fx.changed(peer);
        }
        continue;
      }
      if (now < ph.nextAt) continue;
      if (ph.probes >= this.#t.maxProbes) {
        p.phase = { kind: "paused", until: now + this.#t.retryMs };
        continue;
      }
      const at = this.fx.candidate(peer, p.via);
      ph.nextAt = now + this.#t.probeMs;
      if (!at) continue;
      ph.probes++;
      this.fx.probe(peer, at);
    }
  }
}

/** `ip:port` or `[v6]:port` text as an endpoint; null when it is not one. */
export function parseEndpoint(text: string): Endpoint | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { address: m[1] ?? m[2], port };
}
