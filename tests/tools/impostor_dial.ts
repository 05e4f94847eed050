/**
 * An impostor for the node-key lab test (#15): from inside a peer's namespace (so the source
 * address is that peer's), dials a box and runs the real dialer handshake claiming the peer's
 * name with the right password but a node key of its own. Prints `verdict <text>`: `up` if the
 * box accepted it (a defect), else the error it got.
 *
 *   deno run -A tests/tools/impostor_dial.ts NAME PASSWORD_FILE HOST PORT EXPECTED_PEER
 */

import { dialHandshake } from "../../agent/control/handshake.ts";
import { dialTcp } from "../../agent/control/tcp_stream.ts";
import { FrameReader, MAX_FRAME_BYTES } from "../../agent/control/frame_reader.ts";
import { generateNodeKey } from "../../agent/control/node_key.ts";
import { stripOneNewline } from "../../config/mod.ts";

const [name, passwordFile, host, port, expectedPeer] = Deno.args;
const password = stripOneNewline(Deno.readFileSync(passwordFile));
const stream = await dialTcp({ hostname: host, port: Number(port), timeoutMs: 10_000 });
try {
  await dialHandshake({
    stream,
    reader: new FrameReader(stream, MAX_FRAME_BYTES + 4),
    localName: name,
    password,
    nodeKey: generateNodeKey(),
    remoteAddress: host,
    expectedPeer,
  });
  console.log("verdict up");
} catch (e) {
  console.log(`verdict ${e instanceof Error ? e.message : e}`);
} finally {
  stream.close();
}
