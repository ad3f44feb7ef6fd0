// Every folder the engine saves loads the standard way for its head, predicting what the engine
// predicts: cls in transformers' *ForSequenceClassification, mean pooling in
// sentence-transformers (and the encoder in AutoModel), attention pooling with the PyTorch code
// the export prints. Each kind on BERT, RoBERTa, DistilBERT, ELECTRA, MPNet and DeBERTa-v3,
// regression and 3 classes; the engine reads the folders back, and mean-pooled folders saved
// before this layout.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { type HeadKind, loadingCode } from "../../app/core/export/loading.ts";
import { native } from "../../app/native/addon.ts";
import { fixtures, maxAbsDiff, reference, scratch } from "../helpers/python.ts";

const texts = [
  "the quick brown fox jumps over the lazy dog",
  "Reading!",
  "science history story old new river mountain teacher student learn write number large small",
  "a passage",
];
const heads: HeadKind[] = ["cls", "mean", "attention"];
const models = [
  "bert-regression",
  "roberta-regression",
  "distilbert-regression",
  "bert-3class",
  "roberta-3class",
  "electra-regression",
  "mpnet-3class",
  "deberta-regression",
  "deberta-3class",
  "modernbert-regression",
  "modernbert-3class",
];

interface Case {
  name: string;
  dir: string;
  head: HeadKind;
  engine: number[][];
}

function saveAll(): Case[] {
  const out = scratch("layouts");
  const cases: Case[] = [];
  for (const name of models) {
    for (const head of heads) {
      const model = native.SequenceModel.load(fixtures()[name] as string, {
        device: "cpu",
        pooling: head,
        maxLength: 16,
      });
      const dir = join(out, `${name}-${head}`);
      model.save(dir);
      const reloaded = native.SequenceModel.load(dir, { device: "cpu" });
      const info = reloaded.info();
      assert.equal(info.pooling, head, `${name} ${head}: the pooling comes back`);
      assert.equal(info.maxLength, 16);
      assert.deepEqual(info.initialized, [], `${name} ${head}: every weight comes back`);
      const engine = reloaded.predict(texts);
      assert.ok(maxAbsDiff(engine, model.predict(texts)) < 1e-6, `${name} ${head}: same predictions after reload`);
      cases.push({ name, dir, head, engine });
    }
  }
  return cases;
}

test("each head's folder loads in its library with the printed code and predicts what the engine predicts", () => {
  const cases = saveAll();
  const results = reference<{ logits: number[][]; log: string }[]>(
    "snippets",
    [],
    cases.map((c) => {
      const info = native.SequenceModel.load(c.dir, { device: "cpu" }).info();
      const code = loadingCode(c.dir, {
        head: c.head,
        modelType: info.modelType,
        numLabels: info.numLabels,
        labels: info.labels,
        maxLength: info.maxLength,
      });
      return { code, texts };
    }),
  );
  // The check can fail: the defect, a mean-pooled folder read as a classifier, is reported.
  const mean = cases.find((c) => c.head === "mean") as Case;
  const [control] = reference<{ log: string }[]>(
    "snippets",
    [],
    [
      {
        code: [
          "from transformers import AutoModelForSequenceClassification",
          `AutoModelForSequenceClassification.from_pretrained(${JSON.stringify(mean.dir)})`,
          "texts = []",
          "logits = []",
        ].join("\n"),
        texts: [],
      },
    ],
  );
  assert.match(control?.log ?? "", /classifier\.weight +\| MISSING/);
  const worst: Record<string, number> = {};
  cases.forEach((c, i) => {
    const r = results[i];
    const diff = maxAbsDiff(r?.logits, c.engine);
    worst[c.head] = Math.max(worst[c.head] ?? 0, diff);
    assert.ok(diff < 1e-4, `${c.name} ${c.head}: differs by ${diff}`);
    // A weight reported missing, newly initialized or unused means the layout is not read as saved.
    assert.doesNotMatch(
      r?.log ?? "",
      /newly initialized|MISSING|not used|UNEXPECTED|not initialized/i,
      `${c.name} ${c.head}: ${r?.log}`,
    );
  });
  process.stdout.write(`# max |snippet − engine| per head: ${JSON.stringify(worst)}\n`);
});

test("a mean-pooled folder is a sentence-transformers folder whose encoder AutoModel loads", () => {
  const dir = join(scratch("st"), "bert");
  native.SequenceModel.load(fixtures()["bert-3class"] as string, { device: "cpu", pooling: "mean" }).save(dir);
  const json = (f: string) => JSON.parse(readFileSync(join(dir, f), "utf8"));
  assert.deepEqual(
    json("modules.json").map((m: { path: string; type: string }) => [m.path, m.type]),
    [
      ["", "sentence_transformers.models.Transformer"],
      ["1_Pooling", "sentence_transformers.models.Pooling"],
      ["2_Dense", "sentence_transformers.models.Dense"],
    ],
  );
  assert.equal(json("1_Pooling/config.json").pooling_mode_mean_tokens, true);
  assert.deepEqual(json("2_Dense/config.json"), {
    in_features: 32,
    out_features: 3,
    bias: true,
    activation_function: "torch.nn.modules.linear.Identity",
  });
  assert.deepEqual(json("config.json").architectures, ["BertModel"]);
  assert.ok(existsSync(join(dir, "2_Dense/model.safetensors")));
  // transformers' AutoModel: the encoder's hidden states, as the engine computes them.
  const [want] = reference<{ hidden: number[][][] }[]>("forward", [], [{ dir, texts, max_length: 16 }]);
  const hidden = native.SequenceModel.load(dir, { device: "cpu" }).hiddenStates(texts);
  assert.ok(maxAbsDiff(hidden, want?.hidden) < 1e-4);
});

test("mean-pooled folders saved before the sentence-transformers layout still load, with the same predictions", () => {
  const work = scratch("old");
  const dir = join(work, "new");
  const model = native.SequenceModel.load(fixtures()["roberta-regression"] as string, {
    device: "cpu",
    pooling: "mean",
  });
  model.save(dir);
  const old = join(work, "old");
  reference("old_layout", [], { src: dir, dst: old, prefix: "roberta" });
  assert.ok(!existsSync(join(old, "modules.json")) && !existsSync(join(old, "2_Dense")));
  const reloaded = native.SequenceModel.load(old, { device: "cpu" });
  assert.equal(reloaded.info().pooling, "mean");
  assert.deepEqual(reloaded.info().initialized, []);
  assert.ok(maxAbsDiff(reloaded.predict(texts), model.predict(texts)) < 1e-6);
});

test("saving replaces a folder whole, and a folder saved over its own source keeps its tokenizer", () => {
  const dir = join(scratch("resave"), "m");
  const model = native.SequenceModel.load(fixtures()["bert-regression"] as string, { device: "cpu", pooling: "mean" });
  model.save(dir);
  const again = native.SequenceModel.load(dir, { device: "cpu", pooling: "attention" });
  again.save(dir);
  assert.ok(!existsSync(join(dir, "modules.json")), "the mean layout's files are gone");
  assert.ok(existsSync(join(dir, "head.safetensors")) && existsSync(join(dir, "tokenizer.json")));
  assert.equal(native.SequenceModel.load(dir, { device: "cpu" }).info().pooling, "attention");
});

test("for text pairs the printed code tokenizes both texts as the engine does", () => {
  const pairs = ["a passage", "the river", "Reading!", "old new story"];
  const work = scratch("pairs");
  const cases = (["cls", "attention"] as const).flatMap((head) =>
    ["bert-3class", "distilbert-regression"].map((name) => {
      const dir = join(work, `${name}-${head}`);
      native.SequenceModel.load(fixtures()[name] as string, { device: "cpu", pooling: head, maxLength: 16 }).save(dir);
      const model = native.SequenceModel.load(dir, { device: "cpu" });
      const info = model.info();
      const code = loadingCode(dir, { head, ...info, pairs: true });
      return { name: `${name} ${head}`, code, engine: model.predict(texts, pairs) };
    }),
  );
  const results = reference<{ logits: number[][] }[]>(
    "snippets",
    [],
    cases.map((c) => ({ code: c.code, texts, second_texts: pairs })),
  );
  cases.forEach((c, i) => {
    const diff = maxAbsDiff(results[i]?.logits, c.engine);
    assert.ok(diff < 1e-4, `${c.name}: differs by ${diff}`);
  });
  // sentence-transformers encodes single texts: for pairs the mean head's code says to use ftune.
  assert.match(
    loadingCode("/m", { head: "mean", modelType: "bert", numLabels: 1, labels: [], maxLength: 16, pairs: true }),
    /ftune predict --model "\/m" .* --pair-column PAIR/,
  );
});
