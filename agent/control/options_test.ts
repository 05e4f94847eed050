import { deepStrictEqual, strictEqual, throws } from "node:assert";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_MS,
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
