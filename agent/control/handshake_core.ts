/**
 * The two roles of the v2 handshake as pure state objects: bytes of records in, bytes of
 * records out, no I/O (`handshake.ts` runs them over TCP, `rekey.ts` inside a session's sealed
 * channel). The messages, in order:
 *
 *   1  dialer   → HELLO_D                      nonce, E_D, index, [S_D], name
 *   2  listener → HELLO_L ‖ SHARES_L           its CPace share per password slot
 *   3  dialer   → SHARES_D ‖ CONFIRM_D         its shares; a tag per slot pair; [key proof]
 *   4  listener → CONFIRM_L                    the chosen slot pair, its tag, [key proof]
 *      (or AUTH_FAILED [key proof] when no tag of 3 verified; REFUSE for a failed key proof)
 *
 * Why this order leaves no offline oracle. In protocol v1 the listener sent a confirmation keyed
 * by SHA-256(DH ‖ password) to anyone who connected, before the dialer had proved anything; the
 * DH was unauthenticated, so the dialer knew it and could test password guesses offline at hash
 * speed. Now (a) the exchange is CPace: every share is y·g with g derived from the password, so
 * a tag can only be recomputed by whoever knows the password its share committed to — an
 * active attacker who sends a share tests exactly one guess per share, online, and a passive
 * one nothing; and (b) on top, the side that accepts connections from anyone (the listener)
 * sends nothing password-dependent before the dialer's tag verified: message 2 holds only
 * uniformly distributed shares, and message 4 only goes to a dialer that proved the password.
 * The dialer's tags go only to the address it chose to dial. A side offers at most two shares
 * (current and previous password), so one connection gives an attacker at most one online guess
 * per password slot, and nothing offline.
 *
 * Previous password: each side sends a share per slot; the dialer tags every slot pair; the
 * listener picks the first pair whose tag verifies in the order (0,0), (0,1), (1,0), (1,1), so
 * two ends that both have the current password always use it. A tag covers the whole
 * transcript (all shares), so nobody on the path can steer the choice: changing anything breaks
 * every tag. The listener's tag names the pair it chose.
 *
 * Node keys (#15): a side with a node key puts its public key S in HELLO and proves it with
 * HMAC(X25519(s, E_other), TH): only the holder of s (or of the other side's fresh e) can
 * compute it, and TH binds it to this run. The same DH terms go into the session key. A peer
 * for which weave.yaml gives a key must present exactly that key and prove it; the proof does
 * not depend on the password, so it also tells a genuine password mismatch of the real peer
 * from an impostor (`HandshakeError.peerProvedKey`).
 *
 * @module
 */

import { x25519Base } from "./x25519.ts";
import { calculateGenerator, isIdentity, isLowOrderU, scalarMult, scalarMultVfy } from "./cpace.ts";
import {
  encodeAuthFailed,
  encodeDialerConfirm,
  encodeHello,
  encodeListenerConfirm,
  encodeRecord,
  encodeRefuse,
  encodeShares,
  type Hello,
  parseDialerConfirm,
  parseHello,
  parseListenerConfirm,
  parseShares,
  RecordKind,
} from "./handshake_wire.ts";
import {
  confirmTag,
  cpaceChannelId,
  cpaceSid,
  deriveSessionKeySet,
  keyProofTag,
  type SessionKeySet,
  sharedSecret,
  slotIsk,
  slotSessionKey,
  transcriptHash,
} from "./key_schedule.ts";
import { type Direction, equalBytes } from "./session_keys.ts";
import { WireError } from "./wire_error.ts";

/** The passwords a box holds: slot 0 current, slot 1 previous (during a rollout). */
export interface PasswordSet {
  /** Null: no password configured (sessions are then unauthenticated). */
  current: Uint8Array | null;
  previous?: Uint8Array | null;
}

/** A box's own node key pair (X25519). */
export interface NodeKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** Which of its passwords a side used. */
export type PasswordSlot = "current" | "previous";

/** What both roles take. */
export interface CoreOptions {
  localName: string;
  passwords: PasswordSet;
  /** This box's node key; null or absent: it proves none. */
  nodeKey?: NodeKeyPair | null;
  /** The node key weave.yaml gives a peer name; null: none (then none is required). */
  peerKey?: (name: string) => Uint8Array | null;
  /** Receiver index for this session (default: random, nonzero). */
  localIndex?: number;
  /**
   * Source of the run's secrets (default crypto.getRandomValues): in this order the ephemeral
   * key E, the nonce, then one CPace scalar per password slot. Known-answer tests replay them.
   */
  random?: (n: number) => Uint8Array;
}

/** A confirmed handshake (either role). */
export interface CoreResult {
  peerName: string;
  /** SHA-256(shared ‖ password) of the chosen slot pair. */
  sessionKey: Uint8Array;
  /** The transcript hash: salt of every per-purpose key. */
  transcriptHash: Uint8Array;
  dialerNonce: Uint8Array;
  listenerNonce: Uint8Array;
  dialerIndex: number;
  listenerIndex: number;
  localIsDialer: boolean;
  /** Per-purpose keys of both directions. */
  keys: SessionKeySet;
  /** Which of this side's passwords the session uses. */
  password: PasswordSlot;
  /** False when the password used is "none": the exchange then authenticates nobody. */
  authenticated: boolean;
  /** The peer proved the node key weave.yaml gives it. */
  peerProvedKey: boolean;
}

/** A failure of authentication, with what the peer had proved when it happened. */
export class HandshakeError extends WireError {
  constructor(
    /** "password": no slot pair's tag verified; "key": the node key was missing, other, or unproven. */
    readonly failure: "password" | "key",
    /** The name the peer claimed. */
    readonly peerName: string,
    /** The peer proved the node key weave.yaml gives that name (so it is the real peer). */
    readonly peerProvedKey: boolean,
    /** weave.yaml gives that name a node key. */
    readonly peerKeyConfigured: boolean,
    message: string,
  ) {
    super("auth", message);
    this.name = "HandshakeError";
  }
}

const D2L: Direction = "dialer->listener";
const L2D: Direction = "listener->dialer";

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function randomIndex(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] | 1;
}

/** A HELLO whose E or S has low order could only ever yield I: refused at once. */
function checkHelloKeys(h: Hello): Hello {
  if (isLowOrderU(h.ephemeral) || (h.nodeKey && isLowOrderU(h.nodeKey))) {
    throw new WireError("garbage", `low-order X25519 key in the HELLO of ${h.name}`);
  }
  return h;
}

function passwordsOf(p: PasswordSet): (Uint8Array | null)[] {
  return p.previous !== undefined && p.previous !== null ? [p.current, p.previous] : [p.current];
}

/** X25519 with the low-order check; a bad remote key is garbage. */
function dh(priv: Uint8Array, pub: Uint8Array, what: string): Uint8Array {
  const out = scalarMultVfy(priv, pub);
  if (isIdentity(out)) throw new WireError("garbage", `low-order ${what}`);
  return out;
}

/** What one side holds of its ephemeral secrets; wiped at the end of the run. */
class Secrets {
  readonly eph: Uint8Array;
  readonly ephPub: Uint8Array;
  readonly nonce: Uint8Array;
  scalars: Uint8Array[] = [];
  constructor(readonly random: (n: number) => Uint8Array) {
    this.eph = random(32);
    this.ephPub = x25519Base(this.eph);
    this.nonce = random(32);
  }
  wipe(): void {
    this.eph.fill(0);
    for (const s of this.scalars) s.fill(0);
  }
}

/** Shares of one side, one per password slot. */
function makeShares(
  s: Secrets,
  passwords: (Uint8Array | null)[],
  ci: Uint8Array,
  sid: Uint8Array,
): Uint8Array[] {
  return passwords.map((pw) => {
    const g = calculateGenerator(pw ?? new Uint8Array(0), ci, sid);
    const y = s.random(32);
    s.scalars.push(y);
    const share = scalarMult(y, g);
    g.fill(0);
    return share;
  });
}

/** The node-key check both roles make on the peer's HELLO: null when acceptable. */
function keyRefusal(o: CoreOptions, hello: Hello): string | null {
  const want = o.peerKey?.(hello.name) ?? null;
  if (!want) return null;
  if (!hello.nodeKey) return `peer ${hello.name} must prove the node key weave.yaml gives it`;
  if (!equalBytes(hello.nodeKey, want)) {
    return `peer ${hello.name} presented a node key other than the one in weave.yaml`;
  }
  return null;
}

/** Session key of slot pair (i, j) and everything derived with it. */
interface PairKeys {
  i: number;
  j: number;
  sessionKey: Uint8Array;
  authenticated: boolean;
}

/** The per-pair computation both roles share once all four records are known. */
function pairKeys(
  sid: Uint8Array,
  ks: (i: number, j: number) => Uint8Array,
  sharesD: Uint8Array[],
  sharesL: Uint8Array[],
  localPasswords: (Uint8Array | null)[],
  localIsDialer: boolean,
  terms: { d: Uint8Array | null; l: Uint8Array | null },
  th: Uint8Array,
): PairKeys[] {
  const out: PairKeys[] = [];
  for (let i = 0; i < sharesD.length; i++) {
    for (let j = 0; j < sharesL.length; j++) {
      const k = ks(i, j);
      const isk = slotIsk(sid, k, sharesD[i], i, sharesL[j], j);
      const shared = sharedSecret(isk, terms.d, terms.l, th, i, j);
      const pw = localPasswords[localIsDialer ? i : j];
      out.push({ i, j, sessionKey: slotSessionKey(shared, pw), authenticated: pw !== null });
      k.fill(0);
      isk.fill(0);
      shared.fill(0);
    }
  }
  return out;
}

function finish(
  chosen: PairKeys,
  all: PairKeys[],
  base: Omit<CoreResult, "sessionKey" | "keys" | "password" | "authenticated">,
): CoreResult {
  for (const p of all) if (p !== chosen) p.sessionKey.fill(0);
  const slot = base.localIsDialer ? chosen.i : chosen.j;
  return {
    ...base,
    sessionKey: chosen.sessionKey,
    keys: deriveSessionKeySet(
      chosen.sessionKey,
      base.transcriptHash,
      base.dialerIndex,
      base.listenerIndex,
    ),
    password: slot === 0 ? "current" : "previous",
    authenticated: chosen.authenticated,
  };
}

/** The dialing side. */
export class DialerHandshake {
  /** Message 1: the HELLO record. */
  readonly hello: Uint8Array;
  readonly #o: CoreOptions;
  readonly #expected: string;
  readonly #s: Secrets;
  readonly #index: number;
  #state: {
    peer: Hello;
    th: Uint8Array;
    pairs: PairKeys[];
    termL: Uint8Array | null;
    base: Omit<CoreResult, "sessionKey" | "keys" | "password" | "authenticated">;
  } | null = null;

  constructor(o: CoreOptions & { expectedPeer: string }) {
    this.#o = o;
    this.#s = new Secrets(o.random ?? randomBytes);
    this.#expected = o.expectedPeer;
    this.#index = o.localIndex ?? randomIndex();
    this.hello = encodeHello({
      nonce: this.#s.nonce,
      ephemeral: this.#s.ephPub,
      index: this.#index,
      nodeKey: o.nodeKey?.publicKey ?? null,
      name: o.localName,
    });
  }

  /**
   * Message 2 in (the listener's HELLO and SHARES bodies; `prefix` is what the transcript hash
   * starts with: both headers on TCP), message 3 out. Throws WireError / HandshakeError.
   */
  reply(helloBody: Uint8Array, sharesBody: Uint8Array, prefix: Uint8Array): Uint8Array {
    const peer = checkHelloKeys(parseHello(helloBody));
    if (peer.name === this.#o.localName) {
      throw new WireError("unknown-peer", "the peer claims this agent's own name");
    }
    if (peer.name !== this.#expected) {
      throw new WireError(
        "unknown-peer",
        `dialled ${this.#expected} but it calls itself ${peer.name}`,
      );
    }
    const configured = this.#o.peerKey?.(peer.name) ?? null;
    const refusal = keyRefusal(this.#o, peer);
    if (refusal) throw new HandshakeError("key", peer.name, false, configured !== null, refusal);
    const sharesL = parseShares(sharesBody);
    const ci = cpaceChannelId(this.#o.localName, peer.name);
    const sid = cpaceSid(this.#s.nonce, peer.nonce);
    const passwords = passwordsOf(this.#o.passwords);
    const sharesD = makeShares(this.#s, passwords, ci, sid);
    const sharesRecord = encodeShares(sharesD);
    const th = transcriptHash(prefix, [
      this.hello,
      encodeRecord(RecordKind.HELLO, helloBody),
      encodeRecord(RecordKind.SHARES, sharesBody),
      sharesRecord,
    ]);
    const termD = this.#o.nodeKey ? dh(this.#o.nodeKey.privateKey, peer.ephemeral, "E_L") : null;
    const termL = peer.nodeKey ? dh(this.#s.eph, peer.nodeKey, "node key S_L") : null;
    const ks = (i: number, j: number) => dh(this.#s.scalars[i], sharesL[j], "CPace share");
    const pairs = pairKeys(sid, ks, sharesD, sharesL, passwords, true, { d: termD, l: termL }, th);
    const tags = pairs.map((p) => confirmTag(p.sessionKey, th, D2L, p.i, p.j));
    const proof = termD ? keyProofTag(termD, th, D2L) : null;
    termD?.fill(0);
    this.#s.wipe();
    this.#state = {
      peer,
      th,
      pairs,
      termL,
      base: {
        peerName: peer.name,
        transcriptHash: th,
        dialerNonce: this.#s.nonce,
        listenerNonce: peer.nonce,
        dialerIndex: this.#index,
        listenerIndex: peer.index,
        localIsDialer: true,
        peerProvedKey: false,
      },
    };
    return new Uint8Array([...sharesRecord, ...encodeDialerConfirm(tags, proof)]);
  }

  /** Message 4 in: the listener's CONFIRM body. Throws HandshakeError if it does not verify. */
  confirm(body: Uint8Array): CoreResult {
    const st = this.#need();
    const c = parseListenerConfirm(body, st.peer.nodeKey !== null);
    const provedKey = this.#checkKeyProof(c.keyProof);
    const chosen = st.pairs.find((p) => p.i === c.i && p.j === c.j);
    if (!chosen || !equalBytes(c.tag, confirmTag(chosen.sessionKey, st.th, L2D, c.i, c.j))) {
      this.#wipe();
      throw this.#mismatch(provedKey);
    }
    st.termL?.fill(0);
    return finish(chosen, st.pairs, { ...st.base, peerProvedKey: provedKey });
  }

  /** Message 4 was AUTH_FAILED: the error to report (with what the listener proved). */
  authFailed(body: Uint8Array): HandshakeError {
    const st = this.#need();
    let proved = false;
    if (st.peer.nodeKey && body.length === 32) proved = this.#checkKeyProof(body);
    this.#wipe();
    return this.#mismatch(proved);
  }

  #mismatch(provedKey: boolean): HandshakeError {
    const name = this.#need().peer.name;
    return new HandshakeError(
      "password",
      name,
      provedKey,
      (this.#o.peerKey?.(name) ?? null) !== null,
      `password mismatch with peer ${name}`,
    );
  }

  /** True when the listener proved the node key weave.yaml gives it. */
  #checkKeyProof(proof: Uint8Array | null): boolean {
    const st = this.#need();
    if (!st.peer.nodeKey || !st.termL || !proof) return false;
    if (!equalBytes(proof, keyProofTag(st.termL, st.th, L2D))) {
      this.#wipe();
      throw new HandshakeError(
        "key",
        st.peer.name,
        false,
        (this.#o.peerKey?.(st.peer.name) ?? null) !== null,
        `peer ${st.peer.name} failed to prove its node key`,
      );
    }
    return (this.#o.peerKey?.(st.peer.name) ?? null) !== null;
  }

  #need() {
    if (!this.#state) throw new Error("DialerHandshake: reply() has not run");
    return this.#state;
  }

  /** The run is given up (a rekey attempt aborted): its secrets are wiped now, not at GC. */
  discard(): void {
    this.#s.wipe();
    this.#wipe();
  }

  #wipe(): void {
    for (const p of this.#state?.pairs ?? []) p.sessionKey.fill(0);
    this.#state?.termL?.fill(0);
  }
}

/** What the listener's second step returns. */
export type ListenerOutcome =
  | { ok: true; reply: Uint8Array; result: CoreResult }
  | { ok: false; reply: Uint8Array; error: HandshakeError };

/** The accepting side. */
export class ListenerHandshake {
  readonly #o: CoreOptions;
  readonly #s: Secrets;
  readonly #index: number;
  #peer: Hello | null = null;
  #helloRecord: Uint8Array | null = null;
  #sent: { records: Uint8Array; shares: Uint8Array[]; prefix: Uint8Array } | null = null;

  constructor(o: CoreOptions) {
    this.#o = o;
    this.#s = new Secrets(o.random ?? randomBytes);
    this.#index = o.localIndex ?? randomIndex();
  }

  /** The run is given up (a rekey attempt aborted): its secrets are wiped now, not at GC. */
  discard(): void {
    this.#s.wipe();
  }

  /** Message 1 in. Returns the claimed identity; the caller admits it or refuses. */
  hello(body: Uint8Array): Hello {
    const peer = checkHelloKeys(parseHello(body));
    this.#peer = peer;
    this.#helloRecord = encodeRecord(RecordKind.HELLO, body);
    return peer;
  }

  /** The node-key refusal for the peer's HELLO, or null (checked before any key exchange). */
  keyRefusal(): HandshakeError | null {
    const peer = this.#needPeer();
    const why = keyRefusal(this.#o, peer);
    return why ? new HandshakeError("key", peer.name, false, true, why) : null;
  }

  /** Message 2 out: HELLO ‖ SHARES. `prefix` as for the dialer. */
  reply(prefix: Uint8Array): Uint8Array {
    const peer = this.#needPeer();
    const ci = cpaceChannelId(peer.name, this.#o.localName);
    const sid = cpaceSid(peer.nonce, this.#s.nonce);
    const shares = makeShares(this.#s, passwordsOf(this.#o.passwords), ci, sid);
    const hello = encodeHello({
      nonce: this.#s.nonce,
      ephemeral: this.#s.ephPub,
      index: this.#index,
      nodeKey: this.#o.nodeKey?.publicKey ?? null,
      name: this.#o.localName,
    });
    const records = new Uint8Array([...hello, ...encodeShares(shares)]);
    this.#sent = { records, shares, prefix };
    return records;
  }

  /**
   * Message 3 in (the dialer's SHARES and CONFIRM bodies), message 4 out: CONFIRM on success,
   * AUTH_FAILED when no tag verified, REFUSE when the dialer's node-key proof failed.
   * Malformed input throws WireError.
   */
  confirm(sharesBody: Uint8Array, confirmBody: Uint8Array): ListenerOutcome {
    const peer = this.#needPeer();
    const sent = this.#sent;
    if (!sent) throw new Error("ListenerHandshake: reply() has not run");
    const sharesD = parseShares(sharesBody);
    const passwords = passwordsOf(this.#o.passwords);
    const c = parseDialerConfirm(
      confirmBody,
      sharesD.length * sent.shares.length,
      peer.nodeKey !== null,
    );
    const th = transcriptHash(sent.prefix, [
      this.#helloRecord!,
      sent.records,
      encodeRecord(RecordKind.SHARES, sharesBody),
    ]);
    const configured = (this.#o.peerKey?.(peer.name) ?? null) !== null;
    try {
      const termD = peer.nodeKey ? dh(this.#s.eph, peer.nodeKey, "node key S_D") : null;
      const termL = this.#o.nodeKey ? dh(this.#o.nodeKey.privateKey, peer.ephemeral, "E_D") : null;
      if (termD && !equalBytes(c.keyProof!, keyProofTag(termD, th, D2L))) {
        termD.fill(0);
        termL?.fill(0);
        const why = `peer ${peer.name} failed to prove its node key`;
        return {
          ok: false,
          reply: encodeRefuse(why),
          error: new HandshakeError("key", peer.name, false, configured, why),
        };
      }
      const provedKey = termD !== null && configured;
      const ks = (i: number, j: number) => dh(this.#s.scalars[j], sharesD[i], "CPace share");
      const pairs = pairKeys(sid(peer, this.#s), ks, sharesD, sent.shares, passwords, false, {
        d: termD,
        l: termL,
      }, th);
      const proof = termL ? keyProofTag(termL, th, L2D) : null;
      termD?.fill(0);
      termL?.fill(0);
      // Every tag is checked (no early exit), then the most preferred pair that verified wins.
      const ok = pairs.map((p, k) =>
        equalBytes(c.tags[k], confirmTag(p.sessionKey, th, D2L, p.i, p.j))
      );
      const chosen = pairs.find((_, k) => ok[k]);
      if (!chosen) {
        for (const p of pairs) p.sessionKey.fill(0);
        return {
          ok: false,
          reply: encodeAuthFailed(proof),
          error: new HandshakeError(
            "password",
            peer.name,
            provedKey,
            configured,
            `password mismatch with peer ${peer.name}`,
          ),
        };
      }
      const reply = encodeListenerConfirm(
        chosen.i,
        chosen.j,
        confirmTag(chosen.sessionKey, th, L2D, chosen.i, chosen.j),
        proof,
      );
      return {
        ok: true,
        reply,
        result: finish(chosen, pairs, {
          peerName: peer.name,
          transcriptHash: th,
          dialerNonce: peer.nonce,
          listenerNonce: this.#s.nonce,
          dialerIndex: peer.index,
          listenerIndex: this.#index,
          localIsDialer: false,
          peerProvedKey: provedKey,
        }),
      };
    } finally {
      this.#s.wipe();
    }
  }

  #needPeer(): Hello {
    if (!this.#peer) throw new Error("ListenerHandshake: hello() has not run");
    return this.#peer;
  }
}

function sid(peer: Hello, s: Secrets): Uint8Array {
  return cpaceSid(peer.nonce, s.nonce);
}
