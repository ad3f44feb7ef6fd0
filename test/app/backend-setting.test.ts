// The backend setting (where the app's runs train): saved in settings.json through the API and
// validated there, reported beside the backend the process actually runs with; which backend a
// front end takes (flag, then FTUNE_BACKEND, then the setting); and the desktop app opening on
// local training, saying why, when the saved Ray backend cannot start.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ApiError } from "../../app/core/api/errors.ts";
import { openAppCore } from "../../app/core/service/app-backend.ts";
import { backendChoice, settingsFile, updateSettings } from "../../app/core/settings.ts";
import { api, ftune, scratchHome, testCore, tinyConfig, writeTinyCsv } from "./helpers.ts";

const home = scratchHome("backend-setting");
after(home.cleanup);

describe("the backend setting", () => {
  test("setBackend saves it (validated), backendSettings reports it beside the active backend", async () => {
    const dir = join(home.dir, "api");
    const core = await testCore(dir);
    try {
      const fresh = await api(core, "backendSettings", {});
      assert.deepEqual(fresh, {
        active: { backend: "local", rayAddress: null },
        saved: { backend: "local", rayAddress: null },
        problem: null,
        foldsAtOnce: { active: 1, saved: 1 },
      });
      const saved = await api(core, "setBackend", { backend: "ray", rayAddress: " head.lan:6379 " });
      // Saved for the next start; this process keeps training locally.
      assert.deepEqual(saved.saved, { backend: "ray", rayAddress: "head.lan:6379" });
      assert.deepEqual(saved.active, { backend: "local", rayAddress: null });
      const file = JSON.parse(readFileSync(settingsFile(dir), "utf8")) as Record<string, unknown>;
      assert.equal(file.backend, "ray");
      assert.equal(file.rayAddress, "head.lan:6379");

      for (const bad of ["head.lan", "http://head:6379", "head:port", "a b:1"]) {
        await assert.rejects(
          api(core, "setBackend", { backend: "ray", rayAddress: bad }),
          (e: unknown) => e instanceof ApiError && e.status === 400 && /host:port/.test(e.message),
          bad,
        );
      }
      await assert.rejects(api(core, "setBackend", { backend: "slurm" as "ray" }), ApiError);
      // A refused value leaves the saved one alone.
      assert.deepEqual((await api(core, "backendSettings", {})).saved, { backend: "ray", rayAddress: "head.lan:6379" });

      // Back to local: the address goes with it.
      const local = await api(core, "setBackend", { backend: "local" });
      assert.deepEqual(local.saved, { backend: "local", rayAddress: null });

      // Folds at once: saved for the next start (this process keeps its one), checked.
      assert.deepEqual(local.foldsAtOnce, { active: 1, saved: 1 });
      const two = await api(core, "setBackend", { backend: "local", foldsAtOnce: 2 });
      assert.deepEqual(two.foldsAtOnce, { active: 1, saved: 2 });
      for (const [bad, why] of [
        [0, /at least 1/],
        [17, /at most 16 folds at once/],
        [1.5, /whole number/],
      ] as const) {
        await assert.rejects(
          api(core, "setBackend", { backend: "local", foldsAtOnce: bad }),
          (e: unknown) => e instanceof ApiError && e.status === 400 && why.test(e.message),
          String(bad),
        );
      }
      // A switch to Ray and back keeps them.
      await api(core, "setBackend", { backend: "ray" });
      assert.equal((await api(core, "setBackend", { backend: "local" })).foldsAtOnce.saved, 2);
      assert.equal(
        (JSON.parse(readFileSync(settingsFile(dir), "utf8")) as Record<string, unknown>).rayAddress,
        undefined,
      );
    } finally {
      await core.close();
    }
  });

  test("which backend runs: the flag, then FTUNE_BACKEND, then the setting, else local", () => {
    const dir = join(home.dir, "choice");
    assert.deepEqual(backendChoice({}, dir, {}), { backend: "local", rayAddress: undefined, from: "default" });
    updateSettings({ backend: "ray", rayAddress: "10.0.0.5:6379" }, dir);
    assert.deepEqual(backendChoice({}, dir, {}), { backend: "ray", rayAddress: "10.0.0.5:6379", from: "settings" });
    assert.deepEqual(backendChoice({}, dir, { FTUNE_BACKEND: "local" }), {
      backend: "local",
      rayAddress: undefined,
      from: "env",
    });
    assert.deepEqual(backendChoice({ backend: "local" }, dir, { FTUNE_BACKEND: "ray" }), {
      backend: "local",
      rayAddress: undefined,
      from: "flag",
    });
    // `--backend ray` alone is a local Ray: the saved address goes with the saved backend only.
    assert.deepEqual(backendChoice({ backend: "ray" }, dir, {}), {
      backend: "ray",
      rayAddress: undefined,
      from: "flag",
    });
    assert.deepEqual(backendChoice({ backend: "ray", rayAddress: "h:1" }, dir, { FTUNE_RAY_ADDRESS: "e:2" }), {
      backend: "ray",
      rayAddress: "h:1",
      from: "flag",
    });
    assert.deepEqual(backendChoice({}, dir, { FTUNE_RAY_ADDRESS: "e:2" }), {
      backend: "ray",
      rayAddress: "e:2",
      from: "settings",
    });
  });

  test("folds at once: the flag, else the saved setting; commands that take no saved setting see neither", () => {
    const dir = join(home.dir, "folds-choice");
    updateSettings({ backend: "ray", foldsAtOnce: 3 }, dir);
    assert.equal(backendChoice({}, dir, {}).foldsAtOnce, 3);
    assert.equal(backendChoice({ foldsAtOnce: 2 }, dir, {}).foldsAtOnce, 2);
    // ftune train and ablate: neither the saved backend nor the saved folds at once.
    assert.deepEqual(backendChoice({}, dir, {}, false), { backend: "local", rayAddress: undefined, from: "default" });
    assert.equal(backendChoice({ foldsAtOnce: 2 }, dir, {}, false).foldsAtOnce, 2);
  });

  test("the desktop app with a saved Ray backend that cannot start opens on local training and says why", async () => {
    const dir = join(home.dir, "desktop");
    updateSettings({ backend: "ray", rayAddress: "127.0.0.1:6379", foldsAtOnce: 3 }, dir);
    const missing = join(home.dir, "nowhere");
    const core = await openAppCore(
      dir,
      { progressIntervalMs: 0 },
      { python: missing, binary: missing, stamp: missing },
      backendChoice({}, dir, {}),
    );
    try {
      assert.equal(core.ray, undefined);
      const info = await api(core, "backendSettings", {});
      assert.deepEqual(info.active, { backend: "local", rayAddress: null });
      assert.deepEqual(info.saved, { backend: "ray", rayAddress: "127.0.0.1:6379" });
      assert.match(info.problem ?? "", /^The Ray backend is not installed: run `node scripts\/setup\.mjs --ray`/);
      // Training here, it takes the saved folds at once.
      assert.deepEqual(info.foldsAtOnce, { active: 3, saved: 3 });
    } finally {
      await core.close();
    }
  });

  test("the CLI: --ray-address without --backend ray, or an address that is not host:port, is a usage error", async () => {
    const csv = writeTinyCsv(home.dir, 12, "edge.csv");
    const config = join(home.dir, "edge.json");
    writeFileSync(config, JSON.stringify(tinyConfig({ data: { train: csv, text: "text", label: "target" } })));
    const data = join(home.dir, "cli");
    const env = { FTUNE_BACKEND: "", FTUNE_RAY_ADDRESS: "" };
    const alone = await ftune(["train", config, "--ray-address", "head:6379"], data, env);
    assert.equal(alone.code, 2);
    assert.equal(alone.stderr, "ftune: --ray-address needs --backend ray\n");
    const bad = await ftune(["train", config, "--backend", "ray", "--ray-address", "head"], data, env);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'ftune: "head" is not a Ray address: give host:port, as `ray start --head` prints it\n');
  });
});
