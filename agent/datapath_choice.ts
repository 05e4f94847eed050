/**
 * Which datapath a peer pair uses, and why. Pure: the agent feeds it what it knows (config
 * mode, encryption, this kernel's probe, what the peer announced, the VXLAN heartbeat) and shows
 * the reason in `status`, so an operator never has to guess why a pair is on the sleeve.
 *
 * @module
 */

import type { DatapathMode, Peer } from "../config/types.ts";
import type { KernelDatapathCaps } from "../datapath/kernel_probe.ts";

export type { KernelDatapathCaps } from "../datapath/kernel_probe.ts";

/** Whether this box can run fast datapath at all, and why (not). */
export interface FastdpCapability {
  capable: boolean;
  reason: string;
}

/**
 * This box's fast-datapath capability under the config's mode and encryption, and its place
 * on the underlay (`self`: VXLAN and ESP need a fixed address at both ends that the other
 * reaches directly; neither passes a NAT, #15).
 */
export function localFastdpCapability(
  mode: DatapathMode,
  encrypted: boolean,
  /** Null: the kernel was not probed (it need not be for `datapath: sleeve`). */
  caps: KernelDatapathCaps | null,
  self?: Peer,
): FastdpCapability {
  if (mode === "sleeve") return { capable: false, reason: "the config sets datapath: sleeve" };
  const underlay = self ? notDirect(self, "this box") : null;
  if (underlay) return { capable: false, reason: underlay };
  if (!caps) return { capable: false, reason: "the kernel's datapath support was not probed" };
  if (!caps.vxlan) {
    return {
      capable: false,
      reason: `this kernel cannot create VXLAN devices (${caps.vxlanDetail})`,
    };
  }
  if (encrypted && !caps.esp) {
    return {
      capable: false,
      reason: `this kernel lacks IPsec ESP with rfc4106(gcm(aes)) (${caps.espDetail})`,
    };
  }
  return { capable: true, reason: encrypted ? "kernel VXLAN + ESP (AES-GCM)" : "kernel VXLAN" };
}

/**
 * Why a box cannot take part in fast datapath because of where it is on the underlay, or null:
 * it needs a fixed IP address (kernel VXLAN and ESP are set up with both ends' addresses and
 * do not pass a NAT).
 */
function notDirect(p: Peer, who: string): string | null {
  if (p.endpoint === null) {
    return `${who} has no fixed underlay address (dial-out only, behind NAT): VXLAN and ESP ` +
      "do not pass NAT, so the sleeve";
  }
  if (p.endpoint.kind === "dns") {
    return `${who} is given by DNS name (${p.endpoint.host}), not a fixed address: fast ` +
      "datapath needs both ends' addresses fixed, so the sleeve";
  }
  return null;
}

/**
 * Why the pair with `peer` must use the sleeve whatever the capabilities, or null: the peer has
 * no fixed address, or its session came from another address than its configured one (it sits
 * behind a NAT or a port forward: the ends do not reach each other directly).
 */
export function pairUnderlayReason(peer: Peer, sessionFrom: string | null): string | null {
  const fixed = notDirect(peer, `peer ${peer.name}`);
  if (fixed) return fixed;
  if (sessionFrom !== null && sessionFrom !== "" && sessionFrom !== peer.address) {
    return `peer ${peer.name} is configured at ${peer.address} but its session comes from ` +
      `${sessionFrom} (NAT): VXLAN and ESP do not pass NAT, so the sleeve`;
  }
  return null;
}

/** The datapath state of one peer pair. */
export type PairDatapath = "pending" | "probing" | "fastdp" | "sleeve";

/** The decision for a pair once both ends' capabilities are known. */
export function pairStartDecision(
  local: FastdpCapability,
  remote: FastdpCapability,
  remoteName: string,
): { datapath: "probing" | "sleeve"; reason: string } {
  if (!local.capable) return { datapath: "sleeve", reason: local.reason };
  if (!remote.capable) {
    return { datapath: "sleeve", reason: `peer ${remoteName}: ${remote.reason}` };
  }
  return { datapath: "probing", reason: "both ends can do fast datapath; heartbeat through VXLAN" };
}

/**
 * The decider's verdict after the VXLAN heartbeats: fast datapath only when both directions got
 * through. `remoteOk` null means the peer has not reported yet.
 */
export function pairProbeDecision(
  localOk: boolean | null,
  remoteOk: boolean | null,
  timedOut: boolean,
  remoteName: string,
  timeoutMs: number,
): { datapath: PairDatapath; reason: string } | null {
  if (localOk === false || (timedOut && !localOk)) {
    return {
      datapath: "sleeve",
      reason: `heartbeat through VXLAN to ${remoteName} got no answer within ${timeoutMs} ms`,
    };
  }
  if (remoteOk === false || (timedOut && !remoteOk)) {
    return {
      datapath: "sleeve",
      reason: `heartbeat through VXLAN from ${remoteName} got no answer within ${timeoutMs} ms`,
    };
  }
  if (localOk && remoteOk) {
    return { datapath: "fastdp", reason: "heartbeat through VXLAN answered both ways" };
  }
  return null;
}

export { isDecider } from "./control/mod.ts";
