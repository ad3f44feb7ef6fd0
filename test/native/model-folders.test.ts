// Model folders as users bring them: the bundled pretrained encoder against transformers,
// `ftune predict` against transformers, and clear messages for folders we cannot run.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { bundledModelPath } from "../../app/core/models/bundled.ts";
import { native } from "../../app/native/addon.ts";
import { fixtures, maxAbsDiff, reference, scratch } from "../helpers/python.ts";

const root = join(import.meta.dirname, "../..");
const sentences = [
  "Readability is about how easily a reader can understand a written text.",
  "Short words help.",
  "The committee's deliberations, notwithstanding their ostensible thoroughness, remained inconclusive.",
];

test("the bundled encoder gives transformers' hidden states and sentence embeddings", () => {
  const dir = bundledModelPath();
  const [want] = reference<{ ids: number[][]; hidden: number[][][] }[]>(
    "forward",
    [],
    [{ dir, texts: sentences, max_length: 64 }],
  );
  const model = native.SequenceModel.load(dir, { maxLength: 64, device: "cpu", pooling: "mean" });
  assert.deepEqual(model.tokenize(sentences), want?.ids);
  const hidden = model.hiddenStates(sentences);
  // Sentence embeddings as sentence-transformers makes them: the masked mean of the tokens.
  const embed = (h: number[][][], ids: number[][]) =>
    h.map((rows, i) => {
      const n = ids[i]?.length ?? 0;
      return (rows[0] ?? []).map((_, d) => rows.slice(0, n).reduce((s, r) => s + (r[d] ?? 0), 0) / n);
    });
  const ids = want?.ids ?? [];
  assert.ok(maxAbsDiff(embed(hidden, ids), embed(want?.hidden ?? [], ids)) < 1e-4);
  assert.equal(model.info().layers, 6);
});

test("ftune predict on a saved classifier gives transformers' probabilities", () => {
  const dir = fixtures()["bert-3class"] as string;
  const work = scratch("predict");
  const input = join(work, "in.csv");
  writeFileSync(input, `id,text\n${sentences.map((s, i) => `r${i},"${s}"`).join("\n")}\n`);
  const out = join(work, "out.csv");
  const r = spawnSync(
    process.execPath,
    [
      "bin/ftune.js",
      "predict",
      "--model",
      dir,
      "--input",
      input,
      "--text-column",
      "text",
      "--output",
      out,
      "--max-length",
      "32",
      "--device",
      "cpu",
    ],
    { cwd: root, encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(out, "utf8").trim().split("\n");
  assert.equal(lines[0], "id,label,prob_easy,prob_medium,prob_hard");
  const [want] = reference<{ logits: number[][] }[]>("forward", [], [{ dir, texts: sentences, max_length: 32 }]);
  lines.slice(1).forEach((line, i) => {
    const [id, label, ...probs] = line.split(",");
    assert.equal(id, `r${i}`);
    const logits = want?.logits[i] ?? [];
    const exps = logits.map((l) => Math.exp(l - Math.max(...logits)));
    const expected = exps.map((e) => e / exps.reduce((a, b) => a + b, 0));
    assert.ok(maxAbsDiff(probs.map(Number), expected) < 1e-5, `row ${i}`);
    assert.equal(label, ["easy", "medium", "hard"][expected.indexOf(Math.max(...expected))]);
  });
});

test("ftune predict on a ModernBERT classifier (mean pooling, every bias) gives transformers' probabilities", () => {
  const dir = fixtures()["modernbert-3class"] as string;
  const work = scratch("predict-mb");
  const input = join(work, "in.csv");
  writeFileSync(input, `id,text\n${sentences.map((s, i) => `r${i},"${s}"`).join("\n")}\n`);
  const out = join(work, "out.csv");
  const args = ["bin/ftune.js", "predict", "--model", dir, "--input", input, "--text-column", "text"];
  const r = spawnSync(process.execPath, [...args, "--output", out, "--max-length", "40", "--device", "cpu"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(out, "utf8").trim().split("\n");
  assert.equal(lines[0], "id,label,prob_easy,prob_medium,prob_hard");
  const [want] = reference<{ logits: number[][] }[]>("forward", [], [{ dir, texts: sentences, max_length: 40 }]);
  lines.slice(1).forEach((line, i) => {
    const [, label, ...probs] = line.split(",");
    const logits = want?.logits[i] ?? [];
    const exps = logits.map((l) => Math.exp(l - Math.max(...logits)));
    const expected = exps.map((e) => e / exps.reduce((a, b) => a + b, 0));
    assert.ok(maxAbsDiff(probs.map(Number), expected) < 1e-5, `row ${i}`);
    assert.equal(label, ["easy", "medium", "hard"][expected.indexOf(Math.max(...expected))]);
  });
});

test("ModernBERT configs the engine cannot run say so", () => {
  const src = fixtures()["modernbert-3class"] as string;
  const variant = (name: string, change: Record<string, unknown>) => {
    const dir = join(scratch("mb-config"), name);
    mkdirSync(dir);
    for (const f of ["model.safetensors", "tokenizer.json", "tokenizer_config.json"])
      copyFileSync(join(src, f), join(dir, f));
    const c = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...c, ...change }));
    return dir;
  };
  const yarn = { rope_type: "yarn", rope_theta: 10000, factor: 4 };
  assert.throws(
    () =>
      native.SequenceModel.load(
        variant("yarn", { rope_parameters: { full_attention: yarn, sliding_attention: yarn } }),
      ),
    /ModernBERT with rope_type 'yarn' is not supported/,
  );
  assert.throws(
    () => native.SequenceModel.load(variant("types", { layer_types: ["full_attention", "sliding_attention"] })),
    /layer_types has 2 entries but num_hidden_layers is 3/,
  );
  assert.throws(
    () => native.SequenceModel.load(variant("pooling", { classifier_pooling: "max" })),
    /classifier_pooling 'max' is not cls or mean/,
  );
});

function folderLike(name: string, edit: (dir: string) => void): string {
  const src = fixtures()["bert-regression"] as string;
  const dir = join(scratch("folders"), name);
  mkdirSync(dir);
  for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
    copyFileSync(join(src, f), join(dir, f));
  edit(dir);
  return dir;
}

test("folders we cannot run get one clear message saying what to do", () => {
  // A safetensors file under the name of a torch.save checkpoint (pytorch_model.bin-only
  // folders that are real load: checkpoint-formats.test.ts).
  const misnamed = folderLike("misnamed-bin", (d) => {
    execFileSync("mv", [join(d, "model.safetensors"), join(d, "pytorch_model.bin")]);
  });
  assert.throws(
    () => native.SequenceModel.load(misnamed),
    /cannot read .*pytorch_model.bin as a PyTorch state dict \(a torch.save zip\): /,
  );
  const noWeights = folderLike("no-weights", (d) => {
    execFileSync("rm", [join(d, "model.safetensors")]);
  });
  assert.throws(
    () => native.SequenceModel.load(noWeights),
    /has no weights: none of model.safetensors, pytorch_model.bin or their sharded \*.index.json/,
  );
  const gpt = folderLike("gpt2", (d) => {
    const c = JSON.parse(readFileSync(join(d, "config.json"), "utf8"));
    writeFileSync(join(d, "config.json"), JSON.stringify({ ...c, model_type: "gpt2" }));
  });
  assert.throws(() => native.SequenceModel.load(gpt), /model type 'gpt2' is not supported; supported: bert .*roberta/);
  const sinusoidal = join(scratch("folders"), "distilbert-sinusoidal");
  mkdirSync(sinusoidal);
  const distil = fixtures()["distilbert-regression"] as string;
  const c = JSON.parse(readFileSync(join(distil, "config.json"), "utf8"));
  writeFileSync(join(sinusoidal, "config.json"), JSON.stringify({ ...c, sinusoidal_pos_embds: true }));
  assert.throws(
    () => native.SequenceModel.load(sinusoidal),
    /DistilBERT with sinusoidal position embeddings is not supported/,
  );
  const conv = join(scratch("folders"), "deberta-v2-conv");
  mkdirSync(conv);
  const deberta = JSON.parse(readFileSync(join(fixtures()["deberta-regression"] as string, "config.json"), "utf8"));
  writeFileSync(join(conv, "config.json"), JSON.stringify({ ...deberta, conv_kernel_size: 3 }));
  assert.throws(
    () => native.SequenceModel.load(conv),
    /DeBERTa-v2 with a convolution layer \(conv_kernel_size, as in deberta-v2-xlarge\) is not supported/,
  );
  const noTokenizer = folderLike("no-tokenizer", (d) => {
    execFileSync("rm", [join(d, "tokenizer.json")]);
  });
  assert.throws(() => native.SequenceModel.load(noTokenizer), /has no tokenizer.json .*AutoTokenizer.from_pretrained/);
  assert.throws(
    () => native.SequenceModel.load(scratch("empty")),
    /has no config.json: pick a Hugging Face model folder/,
  );
  assert.throws(
    () => native.SequenceModel.load(fixtures()["bert-base"] as string, { maxLength: 100 }),
    /max_length 100 exceeds what the model supports \(64 tokens\)/,
  );
});

test("the tokenizer alone counts tokens up to the model's own limit, past the default max_length", () => {
  // Token-length statistics must see the texts that a max_length of 256 would cut.
  const dir = bundledModelPath();
  const long = "word ".repeat(600);
  const tokenizer = native.Tokenizer.forModel(dir);
  const model = native.SequenceModel.load(dir, { device: "cpu" });
  assert.equal(tokenizer.tokenize([long])[0]?.length, 512, "MiniLM's 512 positions");
  assert.equal(model.tokenize([long])[0]?.length, 256, "the model's default max_length");
  assert.deepEqual(tokenizer.tokenize(sentences), model.tokenize(sentences));
  // RoBERTa numbers positions from pad_token_id + 1: those positions are not usable.
  const roberta = fixtures()["roberta-regression"] as string;
  const config = JSON.parse(readFileSync(join(roberta, "config.json"), "utf8"));
  const limit = config.max_position_embeddings - config.pad_token_id - 1;
  assert.equal(native.Tokenizer.forModel(roberta).tokenize([long])[0]?.length, limit);
});
