/**
 * Which side of a pair decides, in every per-pair agreement (which of two simultaneous
 * connections becomes the session, which datapath the pair uses): the one whose name sorts
 * first. Both sides compute the same answer from the same two names, so no message is needed.
 *
 * @module
 */

/** True when `localName` decides for the pair it forms with `remoteName`. */
export function isDecider(localName: string, remoteName: string): boolean {
  return localName < remoteName;
}
