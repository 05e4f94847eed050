import { deepStrictEqual, strictEqual, throws } from "node:assert";
import {
  connectDeadlineMs,
  deadAfterNowMs,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DEAD_AFTER_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_MS,
  HANDSHAKE_LAG_FACTOR,
  handshakeDeadlineMs,
  MAX_HANDSHAKE_STRETCH_MS,
  type PeerConnectionsOptions,
  resolveOptions,
} from "./options.ts";
import type { Logger } from "./logger.ts";

const quiet: Logger = {
  log() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};
const base: PeerConnectionsOptions = {
  localName: "a",
  listenAddress: "127.0.0.1",
  listenPort: 1,
  peers: [],
  password: null,
  logger: quiet,
};

Deno.test("options: named defaults fill what is not given, given values win", () => {
  const r = resolveOptions({ ...base, heartbeatMs: 500 });
  strictEqual(r.heartbeatMs, 500);
  strictEqual(r.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
  deepStrictEqual(resolveOptions(base).heartbeatMs, DEFAULT_HEARTBEAT_MS);
});

Deno.test("options: a bad option is an error that names it", () => {
  throws(() => resolveOptions({ ...base, deadAfterMs: -1 }), /option deadAfterMs .* got -1/);
  throws(() => resolveOptions({ ...base, heartbeatMs: NaN }), /option heartbeatMs/);
  throws(
    () => resolveOptions({ ...base, backoffBaseMs: 500, backoffMaxMs: 100 }),
    /backoffMaxMs \(100\) is below backoffBaseMs \(500\)/,
  );
});

Deno.test("options: deadlines stretch with this box's loop lag, boundedly; a quiet box keeps them as set", () => {
  const quietBox = resolveOptions(base);
  strictEqual(handshakeDeadlineMs(quietBox), DEFAULT_HANDSHAKE_TIMEOUT_MS);
  strictEqual(connectDeadlineMs(quietBox), DEFAULT_CONNECT_TIMEOUT_MS);
  strictEqual(deadAfterNowMs(quietBox, DEFAULT_HEARTBEAT_MS), DEFAULT_DEAD_AFTER_MS);
  // A session heartbeated every 5 s (a box with 100 peers) may stay silent 2.5 times as long.
  strictEqual(deadAfterNowMs(quietBox, 5000), DEFAULT_DEAD_AFTER_MS * 2.5);
  const late = resolveOptions({ ...base, loopLag: () => 1500 });
  strictEqual(
    handshakeDeadlineMs(late),
    DEFAULT_HANDSHAKE_TIMEOUT_MS + HANDSHAKE_LAG_FACTOR * 1500,
  );
  strictEqual(
    deadAfterNowMs(late, DEFAULT_HEARTBEAT_MS),
    DEFAULT_DEAD_AFTER_MS + HANDSHAKE_LAG_FACTOR * 1500,
  );
  const stuck = resolveOptions({ ...base, loopLag: () => 1e9 });
  strictEqual(handshakeDeadlineMs(stuck), DEFAULT_HANDSHAKE_TIMEOUT_MS + MAX_HANDSHAKE_STRETCH_MS);
});
