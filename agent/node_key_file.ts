/**
 * This box's node key (#15) as the agent takes it at start: from `--key-file`, else weave.yaml's
 * `key_file:` (default `/etc/weave/node.key`). Which outcome is right is decided by
 * {@link nodeKeyVerdict} (pure); {@link loadNodeKey} reads the file and applies it.
 *
 * - weave.yaml gives this box a `key:` — the file must exist and hold exactly that key's
 *   private half, or the agent refuses to start (its peers would refuse it anyway).
 * - No `key:` for this box — a key file, when there is one, is used (peers that configure the
 *   key require it); none at all is fine: the box proves no key.
 *
 * @module
 */

import { encodeKey, type NodeKeyPair, readNodeKey } from "./control/mod.ts";

/** What the agent does about its node key. */
export type NodeKeyVerdict =
  | { ok: true; key: NodeKeyPair | null; note: string }
  | { ok: false; error: string };

/** The decision, from what was read (`pair` null: no file at `path`). */
export function nodeKeyVerdict(
  name: string,
  path: string,
  configured: Uint8Array | null,
  pair: NodeKeyPair | null,
): NodeKeyVerdict {
  if (!pair) {
    if (configured) {
      return {
        ok: false,
        error: `weave.yaml gives peer ${name} a key, but there is no key file at ${path} ` +
          "(write one with `weave-agent keygen --out FILE`, or point --key-file at it)",
      };
    }
    return { ok: true, key: null, note: `no key file at ${path}: this box proves no node key` };
  }
  if (configured && !sameBytes(configured, pair.publicKey)) {
    return {
      ok: false,
      error: `the key in ${path} (public ${encodeKey(pair.publicKey)}) is not the key weave.yaml ` +
        `gives peer ${name} (${encodeKey(configured)})`,
    };
  }
  return { ok: true, key: pair, note: `node key ${encodeKey(pair.publicKey)} from ${path}` };
}

/** Reads the key file at `path` (absent: null) and decides; throws an Error when it must not start. */
export async function loadNodeKey(
  name: string,
  path: string,
  configured: Uint8Array | null,
  warn: (msg: string) => void,
): Promise<{ key: NodeKeyPair | null; note: string }> {
  let pair: NodeKeyPair | null = null;
  const exists = await Deno.stat(path).then(() => true, () => false);
  if (exists) {
    const loaded = await readNodeKey(path);
    for (const w of loaded.warnings) warn(w);
    pair = loaded.pair;
  }
  const v = nodeKeyVerdict(name, path, configured, pair);
  if (!v.ok) throw new Error(v.error);
  return { key: v.key, note: v.note };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
