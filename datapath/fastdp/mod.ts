/**
 * What only the fast datapath needs: ESP keys per direction, derived from a session key. The
 * kernel objects themselves (VXLAN, xfrm, the nft guard) are planned by `../host/`.
 *
 * May import: nothing of ours outside this folder.
 *
 * @module
 */

export { deriveEspDirection, deriveEspKeys, type EspSessionInput } from "./esp_keys.ts";
