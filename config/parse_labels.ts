/**
 * Labels and label selectors with the syntax and meaning of Kubernetes (`matchLabels`,
 * `matchExpressions` with In, NotIn, Exists, DoesNotExist), for networks, workloads and policies.
 *
 * @module
 */

import { isMap, isScalar, type YAMLMap } from "./yaml.ts";
import type { ParseContext } from "./parse_context.ts";
import type { LabelRequirement, Labels, LabelSelector } from "./types.ts";
import { describeValue, type YNode } from "./yaml_reader.ts";

/** Labels every network carries: its name, as Kubernetes labels namespaces. */
export const NETWORK_NAME_LABEL = "kubernetes.io/metadata.name";
/** Prefix of the labels weave sets on endpoints itself; refused in written labels. */
export const RESERVED_LABEL_PREFIX = "weave.works/";
/** Endpoint labels weave sets (see `Policy` in types.ts). */
export const WORKLOAD_LABEL = "weave.works/workload";
export const PEER_LABEL = "weave.works/peer";
export const KIND_LABEL = "weave.works/kind";

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;
const LABEL_HINT = "label keys are name or prefix/name (name: 1-63 letters, digits, -, _, ., " +
  "starting and ending alphanumeric; prefix: a DNS subdomain); values likewise or empty";

/** Null when `key` is a valid label key (Kubernetes syntax). */
export function labelKeyProblem(key: string): string | null {
  const slash = key.indexOf("/");
  const prefix = slash < 0 ? null : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== null && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key "${key}" has an invalid prefix "${prefix}"`;
  }
  if (!LABEL_NAME.test(name)) return `"${key}" is not a valid label key`;
  return null;
}

/** Null when `value` is a valid label value (empty allowed). */
export function labelValueProblem(value: string): string | null {
  return value === "" || LABEL_NAME.test(value) ? null : `"${value}" is not a valid label value`;
}

/** A text scalar (numbers and booleans refused: Kubernetes labels are strings). */
function labelText(ctx: ParseContext, node: YNode | null, what: string): string | undefined {
  if (isScalar(node) && typeof node.value === "string") return node.value;
  if (isScalar(node) && node.value === null) return "";
  ctx.report.error(
    node,
    `${what} must be text, got ${describeValue(node)}`,
    `quote it, e.g. "1" or "true"`,
  );
  return undefined;
}

/**
 * A `labels:` map (key → value). `reserved`: whether `weave.works/` keys are refused (they are
 * in everything an operator writes on an endpoint). Undefined: invalid (reported).
 */
export function parseLabels(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
  opts: { refuseReserved: boolean },
): Labels | undefined {
  if (!isMap(node)) {
    ctx.report.error(
      node,
      `${where} must be a map of label to value, got ${describeValue(node)}`,
      "e.g. {app: camera, tier: edge}",
    );
    return undefined;
  }
  const labels: Labels = {};
  let ok = true;
  for (const pair of (node as YAMLMap).items) {
    const keyNode = ctx.r.resolve(pair.key);
    const key = labelText(ctx, keyNode, `a label key in ${where}`);
    const value = labelText(ctx, ctx.r.resolve(pair.value), `label "${key ?? "?"}" in ${where}`);
    if (key === undefined || value === undefined) {
      ok = false;
      continue;
    }
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) {
      ctx.report.error(
        problem.startsWith(`"${value}"`) ? pair.value as YNode : keyNode,
        problem,
        LABEL_HINT,
      );
      ok = false;
      continue;
    }
    if (opts.refuseReserved && key.startsWith(RESERVED_LABEL_PREFIX)) {
      ctx.report.error(
        keyNode,
        `label "${key}" uses the prefix ${RESERVED_LABEL_PREFIX}, which weave sets itself`,
        `choose another key; selectors can match ${WORKLOAD_LABEL} and ${PEER_LABEL} as they are`,
      );
      ok = false;
      continue;
    }
    if (key in labels) {
      ctx.report.error(keyNode, `label "${key}" appears twice in ${where}`, "keep one of them");
      ok = false;
      continue;
    }
    labels[key] = value;
  }
  return ok ? labels : undefined;
}

/** The selector that selects everything. */
export function everything(): LabelSelector {
  return { matchLabels: {}, matchExpressions: [] };
}

/** A Kubernetes label selector (`{}` selects everything). Undefined: invalid (reported). */
export function parseSelector(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
): LabelSelector | undefined {
  if (isScalar(node) && node.value === null) return everything();
  const m = ctx.r.map(
    node,
    where,
    `in ${where}`,
    ["matchLabels", "matchExpressions"],
    "{matchLabels: {app: camera}}",
  );
  if (!m) return undefined;
  const sel = everything();
  let ok = m.unknownKeys.length === 0;
  const ml = m.get("matchLabels");
  if (ml) {
    const labels = parseLabels(ctx, ml.value, `${where}.matchLabels`, { refuseReserved: false });
    if (labels) sel.matchLabels = labels;
    else ok = false;
  }
  const me = m.get("matchExpressions");
  if (me) {
    const items = ctx.r.list(
      me.value,
      `${where}.matchExpressions`,
      "[{key: tier, operator: In, values: [edge]}]",
    );
    if (!items) ok = false;
    for (const [i, item] of (items ?? []).entries()) {
      const req = parseRequirement(ctx, item, `${where}.matchExpressions[${i}]`);
      if (req) sel.matchExpressions.push(req);
      else ok = false;
    }
  }
  return ok ? sel : undefined;
}

function parseRequirement(
  ctx: ParseContext,
  item: YNode | null,
  where: string,
): LabelRequirement | undefined {
  const m = ctx.r.map(
    item,
    where,
    `in ${where}`,
    ["key", "operator", "values"],
    "{key: tier, operator: In, values: [edge]}",
  );
  if (!m) return undefined;
  const keyE = m.get("key");
  const opE = m.get("operator");
  if (!keyE || !opE) {
    if (m.unknownKeys.length === 0) {
      ctx.report.error(
        item,
        `${where} needs key: and operator:`,
        "e.g. {key: tier, operator: Exists}",
      );
    }
    return undefined;
  }
  const key = ctx.r.string(keyE.value, `${where}.key`, "key: tier");
  const keyProblem = key === undefined ? null : labelKeyProblem(key);
  if (keyProblem) ctx.report.error(keyE.value, keyProblem, LABEL_HINT);
  const opValue = isScalar(opE.value) ? opE.value.value : undefined;
  const op = OPERATORS.find((o) => o === opValue);
  if (!op) {
    ctx.report.error(
      opE.value,
      `${where}.operator must be one of ${OPERATORS.join(", ")}, got ${describeValue(opE.value)}`,
      "operators are case-sensitive, as in Kubernetes",
    );
  }
  const valuesE = m.get("values");
  let values: string[] = [];
  let valuesOk = true;
  if (valuesE) {
    const items = ctx.r.list(valuesE.value, `${where}.values`, "values: [edge, core]");
    if (!items) valuesOk = false;
    for (const v of items ?? []) {
      const t = labelText(ctx, v, `a value in ${where}.values`);
      const problem = t === undefined ? null : labelValueProblem(t);
      if (problem) ctx.report.error(v, problem, LABEL_HINT);
      if (t === undefined || problem) valuesOk = false;
      else values.push(t);
    }
  }
  if (key === undefined || keyProblem || !op || !valuesOk) return undefined;
  const needsValues = op === "In" || op === "NotIn";
  if (needsValues && values.length === 0) {
    ctx.report.error(
      valuesE?.value ?? item,
      `${where}: operator ${op} needs a non-empty values list`,
      "e.g. values: [edge]",
    );
    return undefined;
  }
  if (!needsValues && values.length > 0) {
    ctx.report.error(valuesE!.value, `${where}: operator ${op} takes no values`, "remove values:");
    return undefined;
  }
  values = [...values];
  return { key, operator: op, values };
}

/** Whether `labels` satisfy `sel` (all matchLabels and all expressions). */
export function matchesSelector(labels: Labels, sel: LabelSelector): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  return sel.matchExpressions.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.operator) {
      case "In":
        return has && r.values.includes(labels[r.key]);
      case "NotIn":
        return !has || !r.values.includes(labels[r.key]);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
    }
  });
}
