/**
 * Per-source rate limit on handshakes (#14): every accepted connection costs several X25519
 * operations before its peer has proved anything, so each source address gets a token bucket
 * (a burst, then a steady rate), and all sources together share one more. Pure: the clock is
 * injected; the caller asks before it starts a handshake and drops the connection on "no".
 *
 * Memory stays bounded: at most `maxSources` buckets; when full, the bucket that has been full
 * longest (it would allow a burst anyway) or else the least recently used one is forgotten.
 *
 * @module
 */

/** Options of HandshakeRateLimiter. */
export interface HandshakeRateLimitOptions {
  /** Handshakes one source may start at once (default 8). */
  burstPerSource?: number;
  /** Steady handshakes per second per source (default 2). */
  perSourcePerSecond?: number;
  /** Handshakes all sources together may start at once (default 64). */
  burstTotal?: number;
  /** Steady handshakes per second over all sources (default 50). */
  totalPerSecond?: number;
  /** Sources remembered (default 4096). */
  maxSources?: number;
  /** Milliseconds clock (default performance.now). */
  now?: () => number;
}

/** Defaults of HandshakeRateLimitOptions. */
export const HANDSHAKE_RATE_DEFAULTS: Required<Omit<HandshakeRateLimitOptions, "now">> = {
  burstPerSource: 8,
  perSourcePerSecond: 2,
  burstTotal: 64,
  totalPerSecond: 50,
  maxSources: 4096,
};

/** One token bucket. */
export class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(readonly burst: number, readonly perSecond: number, now: number) {
    if (!(burst >= 1) || !(perSecond > 0)) {
      throw new RangeError(
        `a token bucket needs burst ≥ 1 and rate > 0 (got ${burst}, ${perSecond})`,
      );
    }
    this.#tokens = burst;
    this.#at = now;
  }

  /** Tokens available at `now` (refilled, capped at the burst). */
  tokens(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Gives back a token taken by `take` (the other bucket said no). */
  refund(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }

  #refill(now: number): void {
    const dt = Math.max(0, now - this.#at) / 1000;
    this.#at = Math.max(this.#at, now);
    this.#tokens = Math.min(this.burst, this.#tokens + dt * this.perSecond);
  }
}

/** Why a handshake was not allowed. */
export type RateVerdict = "ok" | "source-limit" | "total-limit";

/** The per-source and total handshake rate limit. */
export class HandshakeRateLimiter {
  readonly #o: Required<HandshakeRateLimitOptions>;
  readonly #sources = new Map<string, TokenBucket>();
  readonly #total: TokenBucket;

  constructor(opts: HandshakeRateLimitOptions = {}) {
    this.#o = { ...HANDSHAKE_RATE_DEFAULTS, now: () => performance.now(), ...opts };
    for (
      const k of Object.keys(HANDSHAKE_RATE_DEFAULTS) as (keyof typeof HANDSHAKE_RATE_DEFAULTS)[]
    ) {
      const v = this.#o[k];
      if (!Number.isFinite(v) || v <= 0) {
        throw new RangeError(`handshake rate limit: ${k} must be > 0, got ${v}`);
      }
    }
    this.#total = new TokenBucket(this.#o.burstTotal, this.#o.totalPerSecond, this.#o.now());
  }

  /** May a handshake from `source` start now? Takes a token from both buckets if so. */
  admit(source: string): RateVerdict {
    const now = this.#o.now();
    let b = this.#sources.get(source);
    if (b) {
      this.#sources.delete(source); // re-insert: the map's order is recency of use
    } else {
      this.#evict(now);
      b = new TokenBucket(this.#o.burstPerSource, this.#o.perSourcePerSecond, now);
    }
    this.#sources.set(source, b);
    if (!b.take(now)) return "source-limit";
    if (!this.#total.take(now)) {
      b.refund();
      return "total-limit";
    }
    return "ok";
  }

  /** Sources remembered now. */
  get size(): number {
    return this.#sources.size;
  }

  #evict(now: number): void {
    if (this.#sources.size < this.#o.maxSources) return;
    // A full bucket carries no state worth keeping; forget the first such, else the oldest.
    for (const [k, v] of this.#sources) {
      if (v.tokens(now) >= v.burst) {
        this.#sources.delete(k);
        return;
      }
    }
    const oldest = this.#sources.keys().next().value;
    if (oldest !== undefined) this.#sources.delete(oldest);
  }
}
