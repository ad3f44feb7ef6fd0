// The order in which a Ray fold task (fold_task.py) hands the driver an evaluation and the state
// the engine saves for it. The engine reports evaluation k, then saves state k; a driver that
// sees evaluation k (and a test that kills the node then) must be able to count on state k
// being shipped. Here a stand-in engine prints an evaluation, waits, saves a state, prints the
// next step; the relay records what arrives in which order, with batches flushed at once.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, test } from "node:test";

import { venvPython } from "../../scripts/env.mjs";
import { scratchHome } from "./helpers.ts";

const home = scratchHome("fold-task");
after(home.cleanup);

const SCRIPT = `
import json, os, sys
sys.path.insert(0, sys.argv[1])
import fold_task

work = sys.argv[2]
fold_dir = os.path.join(work, "out", "fold-0")
engine = os.path.join(work, "engine.py")
with open(engine, "w") as f:
    f.write('''
import json, os, sys, time
state = os.path.join(sys.argv[1], "state")
def say(e):
    print(json.dumps(e), flush=True)
for k in (1, 2):
    say({"kind": "step", "step": 4 * k})
    say({"kind": "eval", "step": 4 * k})
    time.sleep(0.3)  # the evaluation is out; the state comes after it, as in train_fold
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(state, "state.json"), "w") as f:
        f.write(json.dumps({"step": 4 * k}))
say({"kind": "step", "step": 9})
say({"kind": "done", "summary": {}})
''')

log = []

class Call:
    def __init__(self, name):
        self.name = name
    def remote(self, *args):
        if self.name == "push":
            log.extend(("event", json.loads(l)["kind"], json.loads(l)["step"]) for l in args[1])
        elif self.name == "save_state":
            log.append(("state",))
        return False

class Relay:
    push = Call("push")
    save_state = Call("save_state")
    is_cancelled = Call("is_cancelled")

fold_task.ray.get = lambda x, **k: x  # no cluster: the relay answers at once
fold_task.FLUSH_SECONDS = 0  # every line may be relayed as soon as it is read
result = fold_task._follow("job-1", Relay(), [sys.executable, engine, fold_dir], dict(os.environ), fold_dir, ("/scratch", "/run"), work)
print(json.dumps({"log": log, "last": result["last"]["kind"]}))
`;

test("an evaluation reaches the driver only after the state saved for it", () => {
  const out = execFileSync(venvPython, ["-c", SCRIPT, join(import.meta.dirname, "../../app/core/runs/ray"), home.dir], {
    encoding: "utf8",
    env: { ...process.env, RAY_USAGE_STATS_ENABLED: "0" },
  });
  const { log, last } = JSON.parse(out.trim().split("\n").at(-1) as string) as {
    log: [string, string?, number?][];
    last: string;
  };
  assert.equal(last, "done");
  const at = (entry: string) => log.findIndex((e) => e.join(" ") === entry);
  // Both evaluations and both states arrived...
  assert.deepEqual(
    log.filter((e) => e[0] === "event").map((e) => `${e[1]} ${e[2]}`),
    ["step 4", "eval 4", "step 8", "eval 8", "step 9"],
  );
  assert.equal(log.filter((e) => e[0] === "state").length, 2);
  // ...each evaluation after the state saved for it.
  const states = log.flatMap((e, i) => (e[0] === "state" ? [i] : []));
  assert.ok((states[0] as number) < at("event eval 4"), JSON.stringify(log));
  assert.ok((states[1] as number) < at("event eval 8"), JSON.stringify(log));
});
