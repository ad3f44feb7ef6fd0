// Parameter groups and LR schedules against the Python references: the article's LLRD groups
// on the transformers model, transformers' warm-up schedulers and torch's SWALR.
import assert from "node:assert/strict";
import { before, test } from "node:test";

import { native } from "../../app/native/addon.ts";
import { fixtures, reference } from "../helpers/python.ts";

const llrds = {
  none: null,
  layerwise: { mode: "layerwise", top_lr: 3.5e-4, decay: 0.9, head_lr: 3.6e-4 },
  grouped: {
    mode: "grouped",
    head_lr: 3.6e-4,
    groups: [
      { layers: "0-0", lr: 1e-4 },
      { layers: "1-2", lr: 1.75e-4 },
    ],
  },
} as const;
const warmups = [{ warmup_steps: 0 }, { warmup_steps: 3 }, { warmup_ratio: 0.2 }];
const swas = [
  null,
  { start_epoch: 2, lr: 2e-5, anneal_steps: 0, anneal_strategy: "cos" },
  { start_step: 5, lr: 2e-5, anneal_steps: 3, anneal_strategy: "linear" },
  { start_step: 7, lr: 5e-4, anneal_steps: 2, anneal_strategy: "cos" },
];
const stepsPerEpoch = 4;
const epochs = 3;

function configFor(model: string, llrd: unknown, schedule: object, swa: unknown) {
  return {
    model,
    data: { train: "unused.csv", text: "text", label: "label", max_length: 32 },
    train: { epochs },
    optimizer: { lr: 2e-4, weight_decay: 0.01 },
    llrd,
    schedule,
    swa,
  };
}

type Group = { name: string; lr: number; weight_decay: number; variables: string[] };

// ELECTRA, MPNet and DeBERTa: their shared encoder weights outside the layers (embeddings_project,
// the relative position bias, the relative embeddings and their norm) sit with the embeddings.
for (const arch of ["bert", "roberta", "distilbert", "electra", "mpnet", "deberta", "modernbert"]) {
  test(`${arch}: LLRD groups match the article's definition on the transformers model`, () => {
    const dir = fixtures()[`${arch}-regression`] as string;
    const modes = Object.values(llrds);
    const expected = reference<Group[][]>(
      "groups",
      [],
      modes.map((llrd) => ({ dir, llrd, lr: 2e-4, weight_decay: 0.01 })),
    );
    modes.forEach((llrd, i) => {
      const ours = native.LrSchedule.create(JSON.stringify(configFor(dir, llrd, {}, null)), stepsPerEpoch).groups();
      const want = expected[i] as Group[];
      assert.deepEqual(
        ours.map((g) => g.name),
        want.map((g) => g.name),
      );
      ours.forEach((g, j) => {
        const w = want[j] as Group;
        assert.ok(Math.abs(g.lr - w.lr) <= 1e-15 * w.lr, `${g.name}: lr ${g.lr} vs ${w.lr}`);
        assert.equal(g.weightDecay, w.weight_decay, g.name);
        assert.deepEqual(g.variables, w.variables, g.name);
      });
    });
  });
}

const cases: { name: string; llrd: unknown; warmup: object; swa: (typeof swas)[number] }[] = [];
for (const name of ["linear", "cosine", "constant"])
  for (const warmup of warmups)
    for (const [llrdName, llrd] of Object.entries(llrds))
      for (const swa of swas)
        cases.push({
          name: `${name}/${JSON.stringify(warmup)}/${llrdName}/swa=${JSON.stringify(swa)}`,
          llrd,
          warmup,
          swa,
        });

let expectedCurves: number[][][] = [];
const ourCurves: number[][][] = [];

before(() => {
  const dir = fixtures()["bert-regression"] as string;
  const requests = cases.map((c) => {
    const schedule = native.LrSchedule.create(
      JSON.stringify(configFor(dir, c.llrd, { name: c.name.split("/")[0], ...c.warmup }, c.swa)),
      stepsPerEpoch,
    );
    ourCurves.push(schedule.curves());
    const swaStart = schedule.swaStartStep;
    return {
      base: schedule.groups().map((g) => g.lr),
      name: c.name.split("/")[0],
      warmup_steps: schedule.warmupSteps,
      total: schedule.totalSteps,
      swa: c.swa && {
        start: swaStart,
        lr: c.swa.lr,
        anneal_steps: c.swa.anneal_steps,
        strategy: c.swa.anneal_strategy,
      },
    };
  });
  expectedCurves = reference<number[][][]>("schedule", [], requests);
});

test("warm-up is the ceiling of ratio × total steps, as transformers computes it", () => {
  const dir = fixtures()["bert-regression"] as string;
  const s = native.LrSchedule.create(JSON.stringify(configFor(dir, null, { warmup_ratio: 0.1 }, null)), 7);
  assert.equal(s.totalSteps, 21);
  assert.equal(s.warmupSteps, 3);
});

test(`every group's LR at every step matches transformers + SWALR (${cases.length} configurations)`, () => {
  assert.equal(expectedCurves.length, cases.length);
  cases.forEach((c, i) => {
    const ours = ourCurves[i] as number[][];
    const want = expectedCurves[i] as number[][];
    assert.equal(ours.length, want.length, c.name);
    ours.forEach((curve, g) => {
      curve.forEach((lr, k) => {
        const w = want[g]?.[k] as number;
        assert.ok(
          Math.abs(lr - w) <= 1e-12 * Math.max(Math.abs(w), 1e-300),
          `${c.name} group ${g} step ${k}: ${lr} vs ${w}`,
        );
      });
    });
  });
});
