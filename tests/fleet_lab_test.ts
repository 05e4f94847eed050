/**
 * A fleet of 30 real agents (password, sleeve, one full mesh), all started at the same moment
 * as after a power cut: the mesh must converge, and then stay quiet: during a quiet minute no
 * pair may lose or re-establish its session, since nothing gives it a cause.
 */

import { deepStrictEqual, ok as assert } from "node:assert";
import { LAB } from "./lab/gate.ts";
import { fleetYaml } from "./lab/fleet.ts";
import {
  LogFollower,
  meshState,
  neighbourEntriesFor,
  raiseNeighbourTables,
  startAllAtOnce,
} from "./lab/fleet_scale.ts";
import { Lab } from "./lab/lab.ts";

const AGENTS = 30;
/** Generous: CI boxes are slow and shared; the benchmark measures the real figure. */
const CONVERGE_TIMEOUT_MS = 180_000;
const QUIET_MS = 60_000;
/** No session event for this long: the mesh has settled (relayed pairs back to direct). */
const SETTLED_MS = 10_000;

// In the suite (CI) since the fixes of session 5 converged it in 16-23 s here; the bound above
// leaves room for a slower box. WEAVE_FLEET_TEST=0 skips it (`deno task test:fleet` runs it alone).
const FLEET_TEST = Deno.env.get("WEAVE_FLEET_TEST") !== "0";

Deno.test({
  ...LAB,
  ignore: LAB.ignore || !FLEET_TEST,
  name: `fleet: ${AGENTS} agents started at once converge, then a quiet minute has no churn`,
  async fn() {
    const restore = await raiseNeighbourTables(neighbourEntriesFor(AGENTS));
    try {
      await Lab.run({ hosts: AGENTS }, async (lab) => {
        const names = lab.hosts.map((h) => h.name);
        const pw = await lab.writeFile("secret.txt", "a fleet test password 2718281828\n", 0o600);
        const yaml = fleetYaml(lab, {
          hosts: AGENTS,
          datapath: "sleeve",
          networks: [{ name: "net1", subnet: "10.40.0.0/16" }],
        }, pw);
        const config = await lab.writeFile("weave.yaml", yaml);
        const { startedAt, agents } = await startAllAtOnce(
          lab,
          lab.hosts,
          (h) => ["-c", config, "--name", h.name, "--log-level", "info"],
        );
        const logs = new LogFollower(agents);
        const events = async () => {
          await logs.poll();
          return logs.events;
        };
        let state = meshState(names, await events());
        while (state.convergedAt === null && Date.now() - startedAt < CONVERGE_TIMEOUT_MS) {
          await new Promise((r) => setTimeout(r, 500));
          state = meshState(names, await events());
        }
        assert(
          state.convergedAt !== null,
          `not converged after ${CONVERGE_TIMEOUT_MS} ms: ${state.up}/${state.expected} up`,
        );
        console.log(`fleet: converged ${(state.convergedAt - startedAt) / 1000} s after start`);
        // Converged counts relayed sessions as up; a pair relayed while its direct dials were
        // failing moves back to a direct session when one gets through (a session event with a
        // cause). The quiet minute starts once nothing has changed for SETTLED_MS.
        let seen = (await events()).length;
        let lastChange = Date.now();
        while (
          Date.now() - lastChange < SETTLED_MS && Date.now() - startedAt < CONVERGE_TIMEOUT_MS
        ) {
          await new Promise((r) => setTimeout(r, 1000));
          const n = (await events()).length;
          if (n !== seen) [seen, lastChange] = [n, Date.now()];
        }
        const before = (await events()).length;
        await new Promise((r) => setTimeout(r, QUIET_MS));
        const churn = (await events()).slice(before).map((e) =>
          `${new Date(e.at).toISOString()} ${e.agent}>${e.peer} ${
            e.up ? "up" : `down (${e.reason})`
          }`
        );
        deepStrictEqual(churn, [], "sessions changed during the quiet minute");
        const final = meshState(names, await events());
        assert(
          final.up === final.expected,
          `after the quiet minute: ${final.up}/${final.expected} up`,
        );
      });
    } finally {
      await restore();
    }
  },
});
