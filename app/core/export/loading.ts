// How an exported folder loads, per head: the one source of the Python that `ftune export`,
// the Export view and the model card print. Pure functions (no Node imports): the renderer
// uses `headNote` too. The folder layouts these describe are written by the engine
// (native/engine/src/layout.rs); test/app/export.test.ts runs each snippet against `ftune predict`.

export type HeadKind = "cls" | "mean" | "attention";

/** What the snippet needs to know about the exported model. */
export interface LoadingInfo {
  head: HeadKind;
  /** config.json's model_type: bert, roberta, distilbert, … */
  modelType: string;
  numLabels: number;
  labels: string[];
  /** Tokens per text, as `ftune predict` truncates (the snippet must cut at the same place). */
  maxLength: number;
  /** The task has a second text per example (the config's `data.text_pair`). */
  pairs?: boolean;
}

/** The Python library that loads this head, or null when none does (attention pooling). */
export function headLibrary(head: HeadKind): "transformers" | "sentence-transformers" | null {
  return head === "cls" ? "transformers" : head === "mean" ? "sentence-transformers" : null;
}

/** One or two sentences on how a folder with this head loads, for the Export view and the card. */
export function headNote(head: HeadKind): string {
  switch (head) {
    case "cls":
      return "CLS pooling is transformers' own classification head: the folder loads with AutoModelForSequenceClassification.";
    case "mean":
      return "Mean pooling is saved in the sentence-transformers layout (modules.json, 1_Pooling, a 2_Dense head): SentenceTransformer(folder).encode(texts) gives the prediction, and transformers' AutoModel loads the encoder alone.";
    case "attention":
      return "Attention pooling has no standard class in transformers or sentence-transformers. Predict with `ftune predict`, or in PyTorch with the code below (AutoModel loads the encoder; the head's weights are in head.safetensors).";
  }
}

const py = (s: string) => JSON.stringify(s);

function outputComment(info: LoadingInfo, name: string): string {
  if (info.numLabels === 1) return `# ${name}[i, 0] is the predicted score of texts[i]`;
  const labels = info.labels.length === info.numLabels ? info.labels : [];
  const order = labels.length ? ` (${labels.join(", ")})` : "";
  return `# ${name}[i] are the class logits of texts[i]${order}; softmax gives the probabilities`;
}

function tokenizeLine(info: LoadingInfo): string {
  const args = [
    "texts",
    ...(info.pairs ? ["second_texts"] : []),
    "padding=True",
    "truncation=True",
    `max_length=${info.maxLength}`,
    // DistilBERT, MPNet and ModernBERT take no token types; some tokenizers make them anyway.
    ...(["distilbert", "mpnet", "modernbert"].includes(info.modelType) ? ["return_token_type_ids=False"] : []),
    'return_tensors="pt"',
  ];
  return `batch = tokenizer(${args.join(", ")})`;
}

const textsLines = (info: LoadingInfo) => [
  'texts = ["The first text to score.", "Another one."]',
  ...(info.pairs ? ['second_texts = ["Its pair.", "The other pair."]'] : []),
];

/** Python that loads the folder `dir` and predicts as `ftune predict` does. */
export function loadingCode(dir: string, info: LoadingInfo): string {
  const path = py(dir);
  switch (info.head) {
    case "cls":
      return [
        "import torch",
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
        "",
        `tokenizer = AutoTokenizer.from_pretrained(${path})`,
        `model = AutoModelForSequenceClassification.from_pretrained(${path}).eval()`,
        ...textsLines(info),
        tokenizeLine(info),
        "with torch.no_grad():",
        "    logits = model(**batch).logits",
        outputComment(info, "logits"),
      ].join("\n");
    case "mean":
      if (info.pairs) {
        return [
          "# sentence-transformers encodes single texts; this model reads text pairs.",
          `# Predict with: npx ftune predict --model ${path} --input data.csv --text-column TEXT --pair-column PAIR`,
        ].join("\n");
      }
      return [
        "from sentence_transformers import SentenceTransformer",
        "",
        `model = SentenceTransformer(${path}, device="cpu")`,
        ...textsLines(info),
        "logits = model.encode(texts)",
        outputComment(info, "logits"),
      ].join("\n");
    case "attention":
      return [
        "# No standard class pools by attention: this is the head in plain PyTorch",
        `# (or predict with: npx ftune predict --model ${path} --input data.csv --text-column TEXT).`,
        "import torch",
        "from safetensors.torch import load_file",
        "from transformers import AutoModel, AutoTokenizer",
        "",
        `tokenizer = AutoTokenizer.from_pretrained(${path})`,
        `encoder = AutoModel.from_pretrained(${path}).eval()`,
        `head = load_file(${py(`${dir}/head.safetensors`)})`,
        "",
        "def linear(x, name):",
        '    return x @ head[f"head.{name}.weight"].T + head[f"head.{name}.bias"]',
        "",
        ...textsLines(info),
        tokenizeLine(info),
        "with torch.no_grad():",
        "    hidden = encoder(**batch).last_hidden_state",
        '    scores = linear(torch.tanh(linear(hidden, "attention.dense")), "attention.score").squeeze(-1)',
        '    scores = scores.masked_fill(batch["attention_mask"] == 0, float("-inf"))',
        "    pooled = (hidden * scores.softmax(-1).unsqueeze(-1)).sum(1)",
        '    logits = linear(pooled, "out")',
        outputComment(info, "logits"),
      ].join("\n");
  }
}

/** What the model card says beyond the loading code. */
export interface CardFacts {
  title: string;
  baseModel: string;
  task: "regression" | "classification";
  /** e.g. "best checkpoint: step 178, rmse 0.5123 on fold 0's validation split". */
  checkpoint: string;
  /** e.g. "rmse 0.5301 ± 0.0210 (mean ± std over 5 folds)", or null when not known. */
  cvScore: string | null;
  techniques: string[];
  /** The experiment config, as trained. */
  config: unknown;
}

/** README.md of an exported folder: what it is, how it was trained, how to load it. */
export function modelCard(dir: string, info: LoadingInfo, facts: CardFacts): string {
  const library = headLibrary(info.head);
  const tags = ["finetune-studio", facts.task === "regression" ? "text-regression" : "text-classification"];
  const labels = info.labels.length === info.numLabels && info.numLabels > 1 ? ` (${info.labels.join(", ")})` : "";
  const head = {
    cls: "CLS pooling → transformers' sequence-classification head",
    mean: "mean pooling → Linear (sentence-transformers layout: 1_Pooling, 2_Dense)",
    attention: "attention pooling → Linear (head.safetensors; no standard class)",
  }[info.head];
  return [
    "---",
    ...(library ? [`library_name: ${library}`] : []),
    "tags:",
    ...tags.map((t) => `- ${t}`),
    "---",
    "",
    `# ${facts.title}`,
    "",
    `Fine-tuned with Finetune Studio from **${facts.baseModel}** for ${
      facts.task === "regression" ? "text regression" : `classification into ${info.numLabels} classes${labels}`
    }.`,
    "",
    "| | |",
    "|---|---|",
    `| base model | ${facts.baseModel} (${info.modelType}) |`,
    `| head | ${head} |`,
    `| outputs | ${info.numLabels === 1 ? "1 (the predicted score)" : `${info.numLabels} class logits`} |`,
    `| max length | ${info.maxLength} tokens |`,
    `| checkpoint | ${facts.checkpoint} |`,
    `| CV score | ${facts.cvScore ?? "not known"} |`,
    `| techniques | ${facts.techniques.join("; ")} |`,
    "",
    "## How to load",
    "",
    headNote(info.head),
    ...(info.head === "cls"
      ? []
      : [
          "",
          "The encoder's `pooler_output` is not part of this model: the head pools the tokens itself. The pooler in the folder is the base model's (zeros where it had none), so that AutoModel loads with nothing missing.",
        ]),
    "",
    "```python",
    loadingCode(dir, info),
    "```",
    "",
    "With Finetune Studio:",
    "",
    "```sh",
    `npx ftune predict --model ${py(dir)} --input data.csv --text-column TEXT${info.pairs ? " --pair-column PAIR" : ""}`,
    "```",
    "",
    "## Training config",
    "",
    "```json",
    JSON.stringify(facts.config, null, 2),
    "```",
    "",
  ].join("\n");
}
