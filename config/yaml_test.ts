import { deepStrictEqual, strictEqual } from "node:assert";
import * as cjs from "yaml";
import { LineCounter, parseAllDocuments, parseDocument } from "./yaml.ts";

const ESM_BUILD = new URL("../node_modules/yaml/browser/index.js", import.meta.url).href;

Deno.test("config reads YAML with the package's ES-module build where the checkout has it", async () => {
  const esm = await import(ESM_BUILD);
  strictEqual(parseDocument, esm.parseDocument);
  strictEqual(LineCounter, esm.LineCounter);
  strictEqual(parseAllDocuments, esm.parseAllDocuments);
});

Deno.test("the ES-module and CommonJS builds read weave.yaml alike: values, positions, errors", async () => {
  const files = ["../examples/fleet-policies.yaml", "../examples/nat-dial-out.yaml"];
  const texts = await Promise.all(files.map((f) => Deno.readTextFile(new URL(f, import.meta.url))));
  texts.push(
    "version: 1\npeers:\n  - name: a\n    address: [1, 2\nnetworks: {x: }\n",
    "a: &x 1\nb: *x\n",
  );
  for (const text of texts) {
    const lc1 = new LineCounter();
    const lc2 = new cjs.LineCounter();
    const d1 = parseDocument(text, { lineCounter: lc1, keepSourceTokens: true });
    const d2 = cjs.parseDocument(text, { lineCounter: lc2, keepSourceTokens: true });
    deepStrictEqual(d1.toJS(), d2.toJS());
    deepStrictEqual(d1.errors.map((e) => [e.code, e.pos]), d2.errors.map((e) => [e.code, e.pos]));
    deepStrictEqual(lc1.lineStarts, lc2.lineStarts);
    deepStrictEqual(JSON.stringify(d1.contents?.range), JSON.stringify(d2.contents?.range));
  }
});
