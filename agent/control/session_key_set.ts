/**
 * The shape of one session's per-purpose keys, on its own so that the key schedule (which
 * derives them) and the session secrets (which carry them) both import it without importing
 * each other.
 *
 * @module
 */

/** ESP parameters of one direction: AES-256 key ‖ 4-byte salt (36 bytes), and the SPI. */
export interface EspKey {
  key: Uint8Array;
  spi: number;
}

/** One direction's keys of every purpose. */
export interface DirectionKeys {
  control: Uint8Array;
  sleeve: Uint8Array;
  esp: EspKey;
}

/** Everything the datapaths and the control channel need of one session, per direction. */
export interface SessionKeySet {
  dialerToListener: DirectionKeys;
  listenerToDialer: DirectionKeys;
  /** Receiver indices both ends chose for this session (sleeve header, key derivation). */
  dialerIndex: number;
  listenerIndex: number;
}
