/**
 * The control plane's session layer: one authenticated, encrypted TCP session per pair of peers,
 * over which the agent negotiates everything per pair.
 *
 * What it holds, in the order a connection meets it:
 * - `admission.ts`      accept loop; caps on unauthenticated connections; `name_admission.ts`
 *                       which name a connection may claim from its address (a keyed peer
 *                       without a fixed address from anywhere, bound by its key, #15)
 * - `dialer.ts`         dialling configured peers; `dial_delay.ts` first-dial deferral, backoff;
 *                       `dial_queue.ts` one timer, bounded and paced dials, congestion window
 * - `tcp_stream.ts`     a TCP connection as a byte stream, and dialling with a deadline
 * - `frame_reader.ts`   length-prefixed frames with bounds
 * - `handshake_rate_limit.ts` per-source and total token buckets before any key exchange
 * - `handshake.ts`      the per-connection handshake (protocol v2) over TCP, by role, and the
 *                       pair's agreement on a session; `handshake_wire.ts` its records;
 *                       `handshake_core.ts` both roles as pure state objects (and why the
 *                       message order leaves no offline oracle); `cpace.ts` the CFRG PAKE;
 *                       `key_schedule.ts` password, node keys, transcript → per-purpose keys
 *                       (their shape in `session_key_set.ts`)
 * - `node_key.ts`       node key files and `keygen`
 * - `session_keys.ts`   X25519, the seed's SHA-256(DH ‖ password), v1 HKDF derivations;
 *                       `secure_channel.ts` sealed messages
 * - `rekey.ts`          periodic make-before-break rekey of a live session (state machine)
 * - `session_agreement.ts` one connection from first byte to verdict; failure classification
 * - `session.ts`        an established session: read, write, heartbeat, end;
 *                       `heartbeat_period.ts` the period, stretched for a large fleet;
 *                       `grid_timer.ts` periodic timers on the wall-clock grid (the agent's
 *                       other periodic timers use it too)
 * - `pair_roles.ts`     which side of a pair decides (used by the agent too)
 * - `peer_address.ts`   canonical IP text, to compare socket and configured addresses; a
 *                       DNS name resolved at each dial (system resolver, hosts file included)
 * - `peer_record.ts`    per-peer state and the peer table; `peer_status.ts` what status shows
 * - `options.ts`        options, named defaults, typed event callbacks
 * - `drop_counter.ts`   bad input counted by reason, logged at a bounded rate
 * - `episode_log.ts`    failures with a configured peer at warn once per episode
 * - `wire_error.ts`     the room's one error contract for wire errors
 * - `logger.ts`         the logging interface the owner passes in
 * - `context.ts`        what the parts of one manager share
 * - `peer_connections.ts` the manager that ties them together
 *
 * What it may import: `config/mod.ts` (IP parsing), its own files, and the npm crypto modules.
 * Never `agent/` top level and never `agent/ops`: the owner passes a {@link Logger} and
 * callbacks, so the arrow points one way (agent → control).
 *
 * @module
 */

export { PeerConnections } from "./peer_connections.ts";
export type * from "./options.ts";
export type { PeerCounters, PeerStateName } from "./peer_record.ts";
export type {
  DialSlots,
  PeerConnectionsStatus,
  PeerStateCounts,
  PeerStatus,
  PeerWait,
} from "./peer_status.ts";
export type { DropReason } from "./wire_error.ts";
export { DROP_REASONS, WireError } from "./wire_error.ts";
export type { LogFields, Logger, LogLevel } from "./logger.ts";
export type { SessionSecrets } from "./session_keys.ts";
export type { ControlMessage } from "./secure_channel.ts";
export type { ByteStream } from "./tcp_stream.ts";
export type { ConnectionOutcome } from "./session_agreement.ts";
export { isDecider } from "./pair_roles.ts";
export { DEFAULT_HEARTBEAT_MS } from "./options.ts";
export { stretchedSilenceMs } from "./heartbeat_period.ts";
export { everyOnGrid, type GridClock, systemGridClock, unrefGridClock } from "./grid_timer.ts";
export type { NodeKeyPair, PasswordSlot } from "./handshake_core.ts";
export {
  type LocalKeys,
  localKeys,
  type SessionKeySet,
  wipeSessionKeySet,
} from "./key_schedule.ts";
export { encodeKey, keygenCommand, NodeKeyError, parsePublicKey, readNodeKey } from "./node_key.ts";
export {
  REKEY_DEFAULTS,
  type RekeyAction,
  RekeyMachine,
  type RekeyMessage,
  type RekeyOptions,
} from "./rekey.ts";
export { HANDSHAKE_RATE_DEFAULTS, type HandshakeRateLimitOptions } from "./handshake_rate_limit.ts";
export { canonicalAddress } from "./peer_address.ts";
