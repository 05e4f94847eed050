/**
 * `policyFiles:`: files of standard Kubernetes `kind: NetworkPolicy` documents
 * (networking.k8s.io/v1), accepted unchanged (multi-document YAML allowed). A document's
 * `metadata.namespace` is a network's name, its `podSelector` selects that network's endpoints,
 * and `namespaceSelector` selects networks by their labels. Diagnostics carry the policy file's
 * own path:line:column.
 *
 * "Pods" are workloads: every `podSelector` of a document (and a peer with only a
 * `namespaceSelector`) also requires `weave.works/kind: workload`, so a policy file never
 * selects the peers' own addresses (inline `policies:` can). A `kind: List` of NetworkPolicies
 * (`kubectl get networkpolicy -o yaml`) is read item by item.
 *
 * Refused with a position because they cannot be mapped: a missing `metadata.namespace` (there
 * is no current namespace to default to), `metadata.generateName` without `metadata.name`,
 * any `kind` or `apiVersion` other than NetworkPolicy / networking.k8s.io/v1, and what
 * `parse_policies.ts` refuses (named ports, other protocols). Server-set metadata (`uid`,
 * `resourceVersion`, `generation`, `creationTimestamp`, `managedFields`), `labels`,
 * `annotations` and `status` are accepted and ignored, so `kubectl get -o yaml` output loads.
 *
 * @module
 */

import { isMap, isScalar, LineCounter, parseAllDocuments } from "./yaml.ts";
import { Reporter } from "./diagnostics.ts";
import {
  absolute,
  folderOf,
  type ParseContext,
  resolveAgainstConfig,
  type TopLevel,
} from "./parse_context.ts";
import { KIND_LABEL } from "./parse_labels.ts";
import {
  parsePolicySpec,
  policyName,
  policyNetwork,
  type PolicySpec,
  SPEC_KEYS,
} from "./parse_policies.ts";
import type { LabelRequirement, LabelSelector, Network, Policy, PolicyRule } from "./types.ts";
import { describeValue, YamlReader, type YNode } from "./yaml_reader.ts";

const DOC_KEYS = ["apiVersion", "kind", "metadata", "spec", "status"] as const;
const METADATA_KEYS = [
  "name",
  "namespace",
  "labels",
  "annotations",
  "generateName",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "managedFields",
] as const;
const API_VERSION = "networking.k8s.io/v1";
const LIST_KEYS = ["apiVersion", "kind", "metadata", "items"] as const;

/** The policies of every file of `policyFiles:`; [] when absent; undefined when invalid. */
export function parsePolicyFiles(
  ctx: ParseContext,
  top: TopLevel,
  networks: Network[] | undefined,
): Policy[] | undefined {
  const e = top.get("policyFiles");
  if (!e) return [];
  const items = ctx.r.list(e.value, "policyFiles", "policyFiles: [policies/cameras.yaml]");
  if (!items) return undefined;
  const out: Policy[] = [];
  let ok = true;
  for (const [i, item] of items.entries()) {
    const written = ctx.r.string(item, `policyFiles[${i}]`, "- policies/cameras.yaml");
    if (written === undefined) {
      ok = false;
      continue;
    }
    const policies = parsePolicyFile(ctx, item, written, networks);
    if (policies) out.push(...policies);
    else ok = false;
  }
  return ok ? out : undefined;
}

/** The policy file's path for diagnostics: relative to where the config was named. */
function displayPath(ctx: ParseContext, written: string): string {
  if (written.startsWith("/")) return written;
  const given = ctx.report.file;
  const dir = given.includes("/") ? given.slice(0, given.lastIndexOf("/") + 1) : "";
  const joined = `${dir}${written}`;
  return given.startsWith("/") ? absolute(joined, "/") : joined.replace(/^(\.\/)+/, "");
}

function parsePolicyFile(
  ctx: ParseContext,
  item: YNode | null,
  written: string,
  networks: Network[] | undefined,
): Policy[] | undefined {
  const path = resolveAgainstConfig(ctx, written);
  const bytes = ctx.access.readFile(path);
  if (bytes === null) {
    ctx.report.error(
      item,
      `policy file "${written}" cannot be read (looked for ${path})`,
      `paths are relative to ${folderOf(ctx.path)}`,
    );
    return undefined;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    ctx.report.error(item, `policy file "${written}" is not UTF-8 text`, "save it as UTF-8");
    return undefined;
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: false,
  });
  const report = new Reporter(displayPath(ctx, written), lines);
  const sub = (doc: YamlReader["doc"]): ParseContext => ({
    ...ctx,
    r: new YamlReader(doc, report),
    report,
  });
  const out: Policy[] = [];
  let ok = true;
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    for (const err of doc.errors) {
      report.errorAtOffset(
        err.pos[0],
        `invalid YAML: ${err.message}`,
        "fix the YAML syntax near here",
      );
    }
  }
  if (report.errorCount === 0) {
    for (const [i, doc] of list.entries()) {
      const c = sub(doc);
      const root = c.r.resolve(doc.contents);
      if (!root || (isScalar(root) && root.value === null)) continue; // an empty document
      const ps = policiesOfDocument(c, root, `document ${i + 1}`, networks);
      if (ps) out.push(...ps);
      else ok = false;
    }
  }
  ctx.report.diagnostics.push(...report.diagnostics);
  return ok && report.errorCount === 0 ? out : undefined;
}

/** A NetworkPolicy, or a `kind: List` of them (what `kubectl get networkpolicy -o yaml` prints). */
function policiesOfDocument(
  ctx: ParseContext,
  root: YNode,
  where: string,
  networks: Network[] | undefined,
): Policy[] | undefined {
  const kind = isMap(root)
    ? root.items.find((p) => isScalar(p.key) && p.key.value === "kind")?.value
    : undefined;
  if (!(isScalar(kind) && kind.value === "List")) {
    const p = parseDocumentPolicy(ctx, root, where, networks);
    return p ? [p] : undefined;
  }
  const m = ctx.r.map(root, where, "in a List", LIST_KEYS, "kind: List, items: [...]");
  if (!m || m.unknownKeys.length > 0) return undefined;
  const items = ctx.r.list(m.get("items")?.value ?? null, `${where}.items`, "items: [...]");
  if (!items) return undefined;
  const out: Policy[] = [];
  let ok = true;
  for (const [j, item] of items.entries()) {
    const p = item ? parseDocumentPolicy(ctx, item, `${where} items[${j}]`, networks) : undefined;
    if (p) out.push(p);
    else ok = false;
  }
  return ok ? out : undefined;
}

function parseDocumentPolicy(
  ctx: ParseContext,
  root: YNode,
  where: string,
  networks: Network[] | undefined,
): Policy | undefined {
  const m = ctx.r.map(
    root,
    where,
    `in a NetworkPolicy`,
    DOC_KEYS,
    "apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata, spec",
  );
  if (!m) return undefined;
  const kind = m.get("kind");
  const api = m.get("apiVersion");
  const kindValue = isScalar(kind?.value) ? kind!.value.value : undefined;
  if (kindValue !== "NetworkPolicy") {
    ctx.report.error(
      kind?.value ?? root,
      `${where}: kind must be NetworkPolicy, got ${kind ? describeValue(kind.value) : "nothing"}`,
      "only networking.k8s.io/v1 NetworkPolicy documents can be mapped",
    );
    return undefined;
  }
  const apiValue = isScalar(api?.value) ? api!.value.value : undefined;
  if (apiValue !== API_VERSION) {
    ctx.report.error(
      api?.value ?? root,
      `${where}: apiVersion must be ${API_VERSION}, got ${
        api ? describeValue(api.value) : "nothing"
      }`,
      `write apiVersion: ${API_VERSION}`,
    );
    return undefined;
  }
  const meta = m.get("metadata");
  if (!meta) {
    ctx.report.error(
      root,
      `${where} has no metadata`,
      "add metadata: {name: ..., namespace: <network>}",
    );
    return undefined;
  }
  const md = ctx.r.map(
    meta.value,
    "metadata",
    "in metadata",
    METADATA_KEYS,
    "{name: cameras-in, namespace: cameras}",
  );
  if (!md) return undefined;
  if (!md.get("name") && md.get("generateName")) {
    ctx.report.error(
      md.get("generateName")!.key,
      "metadata.generateName cannot be mapped: a policy needs a fixed name",
      "write metadata.name instead",
    );
    return undefined;
  }
  const name = policyName(ctx, md.get("name"), meta.value, "metadata", md);
  const network = policyNetwork(
    ctx,
    md.get("namespace"),
    meta.value,
    "metadata",
    md,
    networks,
    "namespace",
  );
  const specE = m.get("spec");
  if (!specE) {
    ctx.report.error(root, `${where} has no spec`, "add spec: {podSelector: {}, ...}");
    return undefined;
  }
  const sm = ctx.r.map(
    specE.value,
    "spec",
    "in spec",
    SPEC_KEYS,
    "{podSelector: {}, ingress: [...]}",
  );
  if (!sm) return undefined;
  const spec = parsePolicySpec(ctx, sm, specE.value, "spec", {
    networkSelectorKey: "namespaceSelector",
  });
  if (
    name === undefined || network === undefined || !spec || sm.unknownKeys.length > 0 ||
    md.unknownKeys.length > 0
  ) {
    return undefined;
  }
  return {
    name,
    network,
    ...podsAreWorkloads(spec),
    origin: { file: ctx.report.file, ...ctx.report.at(root) },
  };
}

/** Turns "pods" into "workloads": endpoints labelled `weave.works/kind: workload`. */
const WORKLOADS_ONLY: LabelRequirement = { key: KIND_LABEL, operator: "In", values: ["workload"] };

function onlyWorkloads(sel: LabelSelector): LabelSelector {
  return { ...sel, matchExpressions: [...sel.matchExpressions, WORKLOADS_ONLY] };
}

/**
 * In a NetworkPolicy document, `podSelector` (and a peer with only a `namespaceSelector`)
 * selects pods, which are workloads here: never the peers' own addresses, which inline
 * `policies:` can select (see `Policy` in types.ts).
 */
function podsAreWorkloads(spec: PolicySpec): PolicySpec {
  const rules = (rs: PolicyRule[]) =>
    rs.map((r) => ({
      ...r,
      peers: r.peers?.map((p) =>
        p.kind === "endpoints" ? { ...p, endpoints: onlyWorkloads(p.endpoints) } : p
      ) ?? null,
    }));
  return {
    ...spec,
    endpoints: onlyWorkloads(spec.endpoints),
    ingress: rules(spec.ingress),
    egress: rules(spec.egress),
  };
}
