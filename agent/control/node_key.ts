/**
 * Node keys (#15): each box's own X25519 key pair, which binds its name in the handshake on top
 * of the fleet password. The private key lives in a key file on the box (`key_file:`, never in
 * Git); weave.yaml carries each peer's public key (`key:`), base64 of the 32 raw bytes.
 *
 * Key file format: one line, the base64 of the 32-byte X25519 private key (as WireGuard's
 * `wg genkey`), mode 0600. `weave-agent keygen --out FILE` writes a new one (refusing to
 * overwrite anything) and prints the public key to commit (`keygenCommand`).
 *
 * @module
 */

import { x25519Base } from "./x25519.ts";
import { isLowOrderU } from "./cpace.ts";
import type { NodeKeyPair } from "./handshake_core.ts";

export type { NodeKeyPair } from "./handshake_core.ts";

/** Length of X25519 keys. */
export const NODE_KEY_BYTES = 32;
/** Mode of a key file written by keygen. */
export const KEY_FILE_MODE = 0o600;

/** A key that cannot be used, with the reason (the caller adds file:line:column). */
export class NodeKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NodeKeyError";
  }
}

/** A new key pair from the system's CSPRNG. */
export function generateNodeKey(): NodeKeyPair {
  return nodeKeyFromPrivate(crypto.getRandomValues(new Uint8Array(NODE_KEY_BYTES)));
}

/** The pair of a private key. */
export function nodeKeyFromPrivate(privateKey: Uint8Array): NodeKeyPair {
  if (privateKey.length !== NODE_KEY_BYTES) throw new NodeKeyError("a node key is 32 bytes");
  return { privateKey, publicKey: x25519Base(privateKey) };
}

/** Standard base64 of a key. */
export function encodeKey(key: Uint8Array): string {
  let s = "";
  for (const b of key) s += String.fromCharCode(b);
  return btoa(s);
}

/** The content of a key file for a private key. */
export function encodeKeyFile(privateKey: Uint8Array): string {
  return `${encodeKey(privateKey)}\n`;
}

function decodeBase64Key(text: string, what: string): Uint8Array {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(t)) {
    throw new NodeKeyError(`${what} must be 44 characters of base64 (32 bytes)`);
  }
  const bin = atob(t);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Parses a peer's public key as weave.yaml gives it (`key:`); refuses low-order points. */
export function parsePublicKey(text: string): Uint8Array {
  const key = decodeBase64Key(text, "a node key");
  if (isLowOrderU(key)) throw new NodeKeyError("a node key must not be a low-order point");
  return key;
}

/** Parses a key file's content into the pair. */
export function parseKeyFile(text: string): NodeKeyPair {
  return nodeKeyFromPrivate(decodeBase64Key(text, "a key file"));
}

/** A key file read from disk, and what is wrong with how it is stored. */
export interface LoadedNodeKey {
  pair: NodeKeyPair;
  /** e.g. the file is readable by group or others. */
  warnings: string[];
}

/** Reads and parses a key file; errors name the file. */
export async function readNodeKey(path: string): Promise<LoadedNodeKey> {
  let text: string;
  let mode: number | null;
  try {
    text = await Deno.readTextFile(path);
    mode = (await Deno.stat(path)).mode;
  } catch (e) {
    throw new NodeKeyError(`${path}: ${e instanceof Error ? e.message : e}`);
  }
  let pair: NodeKeyPair;
  try {
    pair = parseKeyFile(text);
  } catch (e) {
    throw new NodeKeyError(`${path}: ${e instanceof Error ? e.message : e}`);
  }
  const warnings = mode !== null && (mode & 0o077) !== 0
    ? [`${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`]
    : [];
  return { pair, warnings };
}

/** Writes a new key file with mode 0600; throws if anything exists at `path`. */
export async function writeNewKeyFile(path: string, privateKey: Uint8Array): Promise<void> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { write: true, createNew: true, mode: KEY_FILE_MODE });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new NodeKeyError(`${path} exists; refusing to overwrite a key file`);
    }
    throw new NodeKeyError(`${path}: ${e instanceof Error ? e.message : e}`);
  }
  try {
    // The umask may have narrowed the mode, never widened it; make it exactly 0600.
    await Deno.chmod(path, KEY_FILE_MODE);
    const data = new TextEncoder().encode(encodeKeyFile(privateKey));
    let off = 0;
    while (off < data.length) off += await f.write(data.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
}

/** Where keygen writes its lines. */
export interface KeygenOutput {
  out(line: string): void;
  err(line: string): void;
}

/**
 * `weave-agent keygen --out FILE`: writes a new private key to FILE (mode 0600, refused if FILE
 * exists) and prints the public key (base64) for the peer's `key:` in weave.yaml. Returns the
 * exit code: 0, 1 on failure, 2 without `--out`.
 */
export async function keygenCommand(
  o: { out?: string },
  io: KeygenOutput = { out: console.log, err: console.error },
): Promise<number> {
  if (!o.out) {
    io.err("weave-agent keygen: --out FILE is required (the private key is never printed)");
    return 2;
  }
  const pair = generateNodeKey();
  try {
    await writeNewKeyFile(o.out, pair.privateKey);
  } catch (e) {
    io.err(`weave-agent keygen: ${e instanceof Error ? e.message : e}`);
    return 1;
  } finally {
    pair.privateKey.fill(0);
  }
  io.out(encodeKey(pair.publicKey));
  return 0;
}
