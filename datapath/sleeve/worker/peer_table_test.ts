import { deepStrictEqual, strictEqual } from "node:assert";
import { parseIp } from "../../../config/mod.ts";
import { sameSockaddr, sockaddr, sockaddrCopy, sockaddrEndpoint } from "../sys/udp.ts";
import type { WorkerPeer, WorkerSession } from "./messages.ts";
import { PeerTable } from "./peer_table.ts";

function session(localIndex: number, key: number): WorkerSession {
  return {
    fingerprint: `fp-${key}`,
    localIndex,
    remoteIndex: 100 + localIndex,
    tx: new Uint8Array(32).fill(key),
    rx: new Uint8Array(32).fill(key + 1),
    txDirection: 0,
    aead: "chacha20-poly1305",
  };
}

function peer(slot: number, address: string | null, s: WorkerSession | null): WorkerPeer {
  return {
    slot,
    name: `p${slot}`,
    address: address === null ? null : parseIp(address)!,
    port: 6783,
    networks: [7],
    active: true,
    keepaliveMs: 0,
    relayId: slot + 1,
    via: null,
    relayFor: false,
    session: s,
  };
}

/** A sockaddr as a receive would write it: the whole 28-byte buffer. */
function received(address: string, port: number): Uint8Array {
  const sa = new Uint8Array(28);
  sa.set(sockaddr(parseIp(address)!, port));
  return sa;
}

Deno.test("#15 peer table: an unknown endpoint sends nothing; a learned one is found by address", () => {
  const t = new PeerTable("noble");
  t.upsert(peer(0, null, session(11, 1)));
  const rt = t.get(0);
  deepStrictEqual([rt.p.active, rt.wantsActive, rt.sa.length], [false, true, 0]);
  strictEqual(t.fromIndex(11), rt, "found by its session's receiver index");
  strictEqual(t.fromIndex(12), undefined);
  const nat = received("198.51.100.9", 40001);
  t.moveTo(rt, nat);
  deepStrictEqual([rt.p.active, rt.roamed, t.fromAddress(nat) === rt], [true, true, true]);
  deepStrictEqual(sockaddrEndpoint(rt.sa), { address: "198.51.100.9", port: 40001 });
  // The main thread updates the peer (a rekey, membership) giving what it gave before: the
  // learned endpoint stays.
  t.upsert(peer(0, null, session(12, 3)));
  strictEqual(t.fromAddress(nat), t.get(0));
  strictEqual(t.fromIndex(12), t.get(0));
  // A new address from the main thread wins.
  t.upsert(peer(0, "192.0.2.5", session(12, 3)));
  deepStrictEqual([t.fromAddress(nat), t.get(0).roamed], [undefined, false]);
  strictEqual(t.fromAddress(received("192.0.2.5", 6783)), t.get(0));
  t.remove(0);
  strictEqual(t.fromIndex(12), undefined);
});

Deno.test("#15 peer table: a peer moving onto another's address takes it; the other relearns", () => {
  const t = new PeerTable("noble");
  t.upsert(peer(0, "192.0.2.5", session(21, 5)));
  t.upsert(peer(1, null, session(22, 7)));
  const at = received("192.0.2.5", 6783);
  t.moveTo(t.get(1), at);
  strictEqual(t.fromAddress(at), t.get(1));
  deepStrictEqual([t.get(0).sa.length, t.get(0).p.active], [0, false]);
  strictEqual(t.fromIndex(21), t.get(0), "still found by index, to learn where it is now");
});

Deno.test("#15 sockaddr helpers: copy at the family's length, compare address and port only", () => {
  const a = received("10.0.0.1", 6783);
  strictEqual(sockaddrCopy(a).length, 16);
  strictEqual(sockaddrCopy(received("2001:db8::1", 6783)).length, 28);
  strictEqual(sameSockaddr(a, sockaddr(parseIp("10.0.0.1")!, 6783)), true);
  strictEqual(sameSockaddr(a, sockaddr(parseIp("10.0.0.1")!, 6784)), false);
  strictEqual(sameSockaddr(a, sockaddr(parseIp("10.0.0.2")!, 6783)), false);
  strictEqual(sameSockaddr(a, new Uint8Array(0)), false);
  deepStrictEqual(sockaddrEndpoint(received("2001:db8::1", 443)), {
    address: "2001:db8:0:0:0:0:0:1",
    port: 443,
  });
});
