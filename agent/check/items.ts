/**
 * The items of `weave-agent check`, each computed by a pure function from what was observed on
 * the box (versions, `ip -json` output, probe results, bind and connect outcomes). The I/O that
 * gathers those observations is in `host_facts.ts`; the orchestration in `check.ts`. One file
 * per group: `items_tools.ts`, `items_kernel.ts`, `items_underlay.ts`, `items_password.ts`,
 * `items_host.ts`, `items_peers.ts`; this file is the index.
 *
 * Item ids are stable (scripts match on them in `check --json`):
 *
 * | id                          | group      | what                                               |
 * | --------------------------- | ---------- | -------------------------------------------------- |
 * | `privileges`                | privileges | root, or CAP_NET_ADMIN in the effective set        |
 * | `privileges.realtime`       | privileges | CAP_SYS_NICE or RLIMIT_RTPRIO ≥ 1: the sleeve's packet worker at realtime priority |
 * | `tool.ip` `tool.bridge` `tool.nft` | tools | present and new enough                           |
 * | `kernel.<capability>`       | kernel     | from the kernel probe: `kernel.bridge`, `kernel.vxlan`, `kernel.tun`, `kernel.nftables`, `kernel.xfrm`, `kernel.esp-gcm` |
 * | `crypto.sleeve`             | crypto     | the sleeve's AES-256-GCM: libcrypto or @noble      |
 * | `config.valid`              | config     | the file loads without errors                      |
 * | `config.warnings`           | config     | warnings the loader reported (other than password) |
 * | `config.identity`           | config     | this box (--name or hostname) is a peer            |
 * | `underlay.address`          | underlay   | this peer's underlay address is on this box        |
 * | `underlay.mtu`              | underlay   | MTU of that link vs `underlay_mtu`                 |
 * | `password.source`           | password   | set, readable, private                             |
 * | `password.strength`         | password   | estimated guessing entropy                         |
 * | `subnet.<network>`          | host       | no route/address on the box overlaps the subnet    |
 * | `vni.<network>`             | host       | no foreign VXLAN device uses the VNI               |
 * | `port.control`              | ports      | control TCP port bindable                          |
 * | `port.sleeve`               | ports      | sleeve UDP port bindable                           |
 * | `port.vxlan`                | ports      | VXLAN UDP port bindable                            |
 * | `peers.dialable`            | peers      | a dial-out-only box has a peer with an address     |
 * | `peer.<name>`               | peers      | TCP reachability of its control port, or dial-out |
 * | `datapath.<name>`           | datapath   | which datapath the pair will get, and why          |
 *
 * @module
 */

export { type CheckItem, type CheckStatus, item } from "./item.ts";
export * from "./items_tools.ts";
export * from "./items_kernel.ts";
export * from "./items_underlay.ts";
export * from "./items_password.ts";
export * from "./items_host.ts";
export * from "./items_peers.ts";
