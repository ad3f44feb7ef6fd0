"""Python references for the parity tests: transformers and torch compute the numbers the
native engine must reproduce.

  reference.py fixtures OUT          tiny random BERT / RoBERTa folders (save_pretrained) with
                                     real tokenizer.json files trained here
  reference.py forward REQUEST       tokens, last hidden states and logits for each request in
                                     the JSON file REQUEST ([{"dir", "texts", "pairs"?, "max_length"}])
  reference.py adamw REQUEST         torch.optim.AdamW on fixed gradients
"""

import json
import sys
from pathlib import Path

import torch

CORPUS_WORDS = (
    "the a reading passage easy hard children science history story old new river mountain "
    "teacher student learn write number large small quick brown fox jumps over lazy dog "
    "difficult vocabulary sentence paragraph simple complex language ancient modern energy"
).split()


def corpus():
    # A deterministic little corpus: every word, and sentences built from them.
    lines = [" ".join(CORPUS_WORDS[i : i + 7]) for i in range(len(CORPUS_WORDS))]
    return lines * 3 + [w.capitalize() + "!" for w in CORPUS_WORDS]


def wordpiece_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(corpus(), trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        # As BertTokenizerFast: pairs get token type 1 on the second text.
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def bpe_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>"
    )


def fixtures(out):
    from transformers import BertConfig, BertForSequenceClassification, BertModel, RobertaConfig, RobertaForSequenceClassification, RobertaModel

    out = Path(out)
    wp, bpe = wordpiece_tokenizer(), bpe_tokenizer()
    common = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64, initializer_range=0.2)
    bert = BertConfig(vocab_size=len(wp), max_position_embeddings=64, **common)
    roberta = RobertaConfig(vocab_size=len(bpe), max_position_embeddings=66, pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1, **common)
    made = {}
    for name, cls, config, tok, labels in [
        ("bert-regression", BertForSequenceClassification, bert, wp, 1),
        ("bert-3class", BertForSequenceClassification, bert, wp, 3),
        ("roberta-regression", RobertaForSequenceClassification, roberta, bpe, 1),
        ("roberta-3class", RobertaForSequenceClassification, roberta, bpe, 3),
        ("bert-base", BertModel, bert, wp, None),
        ("roberta-base", RobertaModel, roberta, bpe, None),
    ]:
        torch.manual_seed(len(made))
        cfg = config.__class__.from_dict(config.to_dict())
        if labels:
            cfg.num_labels = labels
            if labels > 1:
                cfg.id2label = {0: "easy", 1: "medium", 2: "hard"}
                cfg.label2id = {v: k for k, v in cfg.id2label.items()}
        model = cls(cfg).eval()
        model.save_pretrained(out / name)
        tok.save_pretrained(out / name)
        made[name] = str(out / name)
    print(json.dumps(made))


def forward(request_file):
    """Each request: {"dir", "texts", "pairs"?, "max_length"}; one result per request."""
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    results = []
    for req in json.loads(Path(request_file).read_text()):
        model_dir = req["dir"]
        tok = AutoTokenizer.from_pretrained(model_dir)
        config = AutoConfig.from_pretrained(model_dir)
        is_classifier = any(a.endswith("ForSequenceClassification") for a in (config.architectures or []))
        model = (AutoModelForSequenceClassification if is_classifier else AutoModel).from_pretrained(model_dir).eval()
        enc = tok(req["texts"], req.get("pairs"), padding=True, truncation=True, max_length=req["max_length"], return_tensors="pt")
        with torch.no_grad():
            out = model(**enc, output_hidden_states=True)
        ids, mask = enc["input_ids"].tolist(), enc["attention_mask"].tolist()
        result = {"ids": [[i for i, m in zip(r, ms) if m] for r, ms in zip(ids, mask)], "hidden": out.hidden_states[-1].tolist()}
        if is_classifier:
            result["logits"] = out.logits.tolist()
        results.append(result)
    print(json.dumps(results))


def adamw(request_file):
    req = json.loads(Path(request_file).read_text())
    p = torch.tensor(req["param"], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=req["lr"], weight_decay=req["weight_decay"], betas=tuple(req["betas"]), eps=req["eps"])
    for g in req["grads"]:
        opt.zero_grad()
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    print(json.dumps(p.detach().tolist()))


if __name__ == "__main__":
    torch.set_num_threads(1)
    command, *args = sys.argv[1:]
    {"fixtures": fixtures, "forward": forward, "adamw": adamw}[command](*args)
