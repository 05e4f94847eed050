/**
 * Prints sleeve datagrams (hex, one per line) sealed under a key from ANOTHER password, as a
 * box that knows the wire format and the receiver's session index but not the fleet's password
 * would make them. `replay_pcap.py ... substitute` puts them on the wire in place of captured
 * datagrams of the same size (so they come from the real peer's address and port).
 *
 *   deno run -A tests/tools/sleeve_forge.ts VNI RECEIVER_INDEX COUNT DATAGRAM_BYTES
 *
 * @module
 */

import { gcm } from "@noble/ciphers/aes.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { deriveSleeveKeys } from "../../datapath/sleeve/keys.ts";
import { writeHeader, writeNonce } from "../../datapath/sleeve/wire.ts";

const [vni, index, count, size] = Deno.args;
const wrong = sha256(new TextEncoder().encode("a different password entirely"));
const keys = deriveSleeveKeys({
  sessionKey: wrong,
  dialerNonce: new Uint8Array(32),
  listenerNonce: new Uint8Array(32),
  localIsDialer: true,
});
const frame = new Uint8Array(Number(size) - 32).fill(0xee);
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
for (let i = 0; i < Number(count); i++) {
  const seq = 2 ** 40 + i;
  const header = new Uint8Array(16);
  writeHeader(header, Number(vni), Number(index), seq);
  const nonce = new Uint8Array(12);
  writeNonce(nonce, keys.txDirection, seq);
  const sealed = gcm(keys.tx, nonce, header).encrypt(frame);
  const datagram = new Uint8Array(16 + sealed.length);
  datagram.set(header);
  datagram.set(sealed, 16);
  console.log(hex(datagram));
}
