/**
 * examples/grafana/weave-agent.json is what scripts/grafana_dashboard.ts generates, and every
 * series it queries exists on a real agent's /metrics: each panel query runs on a real
 * Prometheus (Debian's `prometheus`) scraping a real agent in the lab, and returns data.
 * Conversely every drop counter the agent exports is on the dashboard.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { Fleet } from "./lab/fleet.ts";
import { includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { dashboard, DASHBOARD_PATH, dashboardText } from "../scripts/grafana_dashboard.ts";

const PASSWORD = "grafana dashboard test passphrase, long enough 3301";
const METRICS = "127.0.0.1:9109";
const PROMETHEUS = "127.0.0.1:9390";

/** Every panel query, with Grafana's variables as Prometheus sees them for "All". */
function panelQueries(): { panel: string; expr: string }[] {
  return dashboard().panels.flatMap((p) =>
    p.targets.map((t) => ({
      panel: p.title,
      expr: t.expr.replaceAll("$instance", ".*").replaceAll("$peer", ".*")
        .replaceAll("$__rate_interval", "10s"),
    }))
  );
}

/** Every `weave_*` series name the dashboard mentions (panels and variables). */
function queriedNames(): string[] {
  const text = JSON.stringify(dashboard());
  return [...new Set(text.match(/\bweave_[a-z0-9_]+/g) ?? [])].sort();
}

Deno.test("grafana: the example dashboard is the generator's output", async () => {
  strictEqual(
    await Deno.readTextFile(DASHBOARD_PATH),
    dashboardText(),
    "run: deno run --allow-write scripts/grafana_dashboard.ts",
  );
});

Deno.test("grafana: panels fit the 24-column grid, ids are unique, every panel queries", () => {
  const d = dashboard();
  deepStrictEqual(new Set(d.panels.map((p) => p.id)).size, d.panels.length);
  for (const p of d.panels) {
    ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: x=${p.gridPos.x} w=${p.gridPos.w}`);
    ok(p.targets.length > 0, `${p.title} has no query`);
  }
});

Deno.test({
  name: "grafana: every series the dashboard queries exists on a real agent, and returns data",
  ...LAB,
  async fn() {
    await using fleet = await Fleet.start({
      hosts: 2,
      password: PASSWORD,
      datapath: "sleeve",
      extra: [`metrics: ${METRICS}`],
    });
    await fleet.settled("sleeve");
    // Every series present: the RTT appears with the first heartbeat answer.
    const statuses = await fleet.waitForStatus((all) =>
      [...all.values()].every((s) => s.peers.every((p) => p.rttMs !== null))
    );
    const a = fleet.host("edge-1");
    const dst = fleet.overlayAddress(statuses.get("edge-2")!, "net1");
    await fleet.lab.exec(a, ["ping", "-c", "3", "-i", "0.2", "-W", "2", dst], { check: true });

    // The agent's own exposition: every name the dashboard uses is a series there.
    const scrape = await fleet.lab.exec(a, [
      Deno.execPath(),
      "eval",
      `const r = await fetch("http://${METRICS}/metrics"); console.log(await r.text());`,
    ], { check: true });
    const exported = new Set(
      scrape.stdout.split("\n").filter((l) => l.startsWith("weave_")).map((l) =>
        l.split(/[{ ]/)[0]
      ),
    );
    for (const name of queriedNames()) includes([...exported], name, "series on /metrics");
    // And the reverse for what an operator must not miss: every drop counter is on it.
    for (const name of exported) {
      if (/drops|_global_|errors/.test(name)) includes(queriedNames(), name, "dashboard series");
    }

    // A real Prometheus in the same box scrapes it; each panel query returns data.
    const config = await fleet.lab.writeFile(
      "prometheus.yml",
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: weave\n` +
        `    static_configs:\n      - targets: ["${METRICS}"]\n`,
    );
    const prom = await fleet.lab.spawn(a, [
      "prometheus",
      `--config.file=${config}`,
      `--storage.tsdb.path=${fleet.lab.runDir}/prometheus-data`,
      `--web.listen-address=${PROMETHEUS}`,
    ], { logFile: "prometheus.log" });
    await prom.waitForLog(/Server is ready to receive web requests/, 30_000);
    type Answer = { status?: string; data?: { result: unknown[] }; error?: string };
    /** Runs queries on the Prometheus inside the box, in one process. */
    const queryAll = async (exprs: string[]): Promise<Answer[]> => {
      const r = await fleet.lab.exec(a, [
        "python3",
        "-c",
        "import json, sys, urllib.error, urllib.parse, urllib.request\n" +
        "out = []\n" +
        "for q in json.loads(sys.argv[2]):\n" +
        "    url = 'http://' + sys.argv[1] + '/api/v1/query?query=' + urllib.parse.quote(q)\n" +
        "    try:\n" +
        "        out.append(json.loads(urllib.request.urlopen(url).read()))\n" +
        "    except urllib.error.HTTPError as e:\n" +
        "        out.append(json.loads(e.read()))\n" +
        "print(json.dumps(out))",
        PROMETHEUS,
        JSON.stringify(exprs),
      ]);
      if (!r.success) throw new Error(`queries: ${r.stderr}`);
      return JSON.parse(r.stdout) as Answer[];
    };
    const query = async (expr: string) => (await queryAll([expr]))[0];
    // Rates need two samples inside their window: wait for the scrapes.
    const deadline = Date.now() + 30_000;
    const scraped = async () =>
      ((await query("count_over_time(weave_peer_up[10s]) > 3")).data?.result.length ?? 0) > 0;
    while (!(await scraped())) {
      if (Date.now() > deadline) {
        const targets = await query("up");
        throw new Error(`no scrapes: ${JSON.stringify(targets)}\n${await prom.readLog()}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const queries = panelQueries();
    const answers = await queryAll(queries.map((q) => q.expr));
    queries.forEach((q, i) => {
      strictEqual(answers[i].status, "success", `${q.panel}: ${q.expr}: ${answers[i].error}`);
      ok((answers[i].data?.result.length ?? 0) > 0, `${q.panel}: no data for ${q.expr}`);
    });
  },
});
