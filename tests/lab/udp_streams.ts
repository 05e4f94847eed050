/**
 * Numbered UDP streams between agents of a fleet (tests/tools/udp_stream.py): every datagram
 * carries its number, so loss is counted exactly, per direction.
 *
 * @module
 */

import type { Fleet } from "./fleet.ts";
import type { LabProcess } from "./lab.ts";

const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const TOOL = `${REPO}/tests/tools/udp_stream.py`;

/** One running stream from `from` to `to`'s overlay address. */
export interface UdpStream {
  from: string;
  to: string;
  count: number;
  recv: LabProcess;
  send: LabProcess;
}

/**
 * Starts a stream of `count` datagrams at `rate` per second from `from` to `toAddress` (an
 * overlay address of `to`) on UDP `port`; the receiver gives up after `quietSecs` of silence.
 */
export async function startUdpStream(
  fleet: Fleet,
  from: string,
  to: string,
  toAddress: string,
  port: number,
  count: number,
  rate: number,
  quietSecs = 5,
  /** How long the receiver waits for the first datagram (default quietSecs). */
  firstSecs = quietSecs,
): Promise<UdpStream> {
  const lab = fleet.lab;
  const recv = await lab.spawn(
    lab.host(to),
    [
      "python3",
      TOOL,
      "recv",
      toAddress,
      String(port),
      String(count),
      String(quietSecs),
      String(firstSecs),
    ],
    { logFile: `udp-recv-${from}-${to}-${port}.log` },
  );
  await recv.waitForLog(/listening/, 10_000);
  const send = await lab.spawn(
    lab.host(from),
    ["python3", TOOL, "send", toAddress, String(port), String(count), String(rate)],
    { logFile: `udp-send-${from}-${to}-${port}.log` },
  );
  return { from, to, count, recv, send };
}

/** The receiver's verdict line, `received R of COUNT missing M first-missing [...]`. */
export async function streamResult(s: UdpStream, timeoutMs = 120_000): Promise<string> {
  await s.send.status;
  const [line] = await s.recv.waitForLog(/received \d+ of \d+ missing \d+.*/, timeoutMs);
  return `${s.from}->${s.to}: ${line}`;
}

/** The number of datagrams a verdict line says were missing. */
export function missingOf(line: string): number {
  const m = / missing (\d+)/.exec(line);
  if (!m) throw new Error(`not a stream verdict: ${line}`);
  return Number(m[1]);
}
