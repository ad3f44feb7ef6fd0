"""Python references for the parity tests: transformers and torch compute the numbers the
native engine must reproduce.

  reference.py fixtures OUT          tiny random BERT / RoBERTa / DistilBERT / ELECTRA / MPNet /
                                     DeBERTa-v2 / ModernBERT folders (save_pretrained) with real tokenizer.json
                                     files trained here
  reference.py forward REQUEST       tokens, last hidden states and logits for each request in
                                     the JSON file REQUEST ([{"dir", "texts", "pairs"?, "max_length"}])
  reference.py adamw REQUEST         torch.optim.AdamW on fixed gradients
  reference.py groups REQUEST        the article's LLRD parameter groups on a transformers model
  reference.py schedule REQUEST      LR curves from transformers' schedulers and torch's SWALR
  reference.py train REQUEST         the reference training loop; compares final weights
  reference.py snippets REQUEST      runs the loading code an export prints ([{"code", "texts"}]),
                                     its `texts = [...]` line replaced by the request's texts;
                                     prints each snippet's `logits` and the warnings it logged
  reference.py old_layout REQUEST    rewrites a mean-pooled export in the layout saved before
                                     sentence-transformers ({"src", "dst", "prefix"})
  reference.py resave REQUEST        saves models again as pytorch_model.bin or sharded
                                     ([{"src", "dst", "safe", "max_shard_size"?}])
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


def modernbert_tokenizer():
    """Byte-level BPE with [CLS] $A [SEP] as ModernBERT's tokenizer.json has it; [PAD] is not id 0,
    so a pad id taken from the wrong place shows, and no token types (model_input_names)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    trainer = trainers.BpeTrainer(vocab_size=280, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"],
    )


def modernbert_configs(tok):
    """Two tiny ModernBERTs: the hub's config style (global/local_rope_theta,
    global_attn_every_n_layers; no biases, cls pooling) and transformers 5's (layer_types,
    rope_parameters; every bias on, mean pooling). A window of 4 tokens over 24, so local
    attention differs from global; small rope thetas so positions matter in 8 dims."""
    from transformers import ModernBertConfig

    ids = dict(pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id, sep_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    common = dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=48, max_position_embeddings=64, initializer_range=0.2, local_attention=4, **ids)
    hub = ModernBertConfig(global_attn_every_n_layers=2, global_rope_theta=1000.0, local_rope_theta=50.0, **common)
    biased = ModernBertConfig(
        global_attn_every_n_layers=3, global_rope_theta=500.0, local_rope_theta=20.0, attention_bias=True, mlp_bias=True, norm_bias=True,
        classifier_bias=True, classifier_pooling="mean", classifier_activation="silu", hidden_activation="gelu_pytorch_tanh",
        embedding_dropout=0.1, attention_dropout=0.1, mlp_dropout=0.1, classifier_dropout=0.1, **common,
    )
    return hub, biased


def hub_style_config(folder):
    """Rewrites a saved ModernBERT config.json as the hub's checkpoints have it (answerdotai/ModernBERT-base):
    global_rope_theta / local_rope_theta / global_attn_every_n_layers, no layer_types or rope_parameters."""
    path = Path(folder) / "config.json"
    c = json.loads(path.read_text())
    rope = c.pop("rope_parameters")
    c.pop("layer_types")
    c["global_rope_theta"], c["local_rope_theta"] = rope["full_attention"]["rope_theta"], rope["sliding_attention"]["rope_theta"]
    path.write_text(json.dumps(c, indent=2))


def fixtures(out):
    from transformers import (
        BertConfig, BertForSequenceClassification, BertModel, DebertaV2Config, DebertaV2ForSequenceClassification,
        DebertaV2Model, DistilBertConfig, DistilBertForSequenceClassification, ElectraConfig,
        ElectraForSequenceClassification, ElectraModel, ModernBertForMaskedLM, ModernBertForSequenceClassification, MPNetConfig, MPNetForSequenceClassification, MPNetModel,
        RobertaConfig, RobertaForSequenceClassification, RobertaModel,
    )

    out = Path(out)
    wp, bpe = wordpiece_tokenizer(), bpe_tokenizer()
    common = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64, initializer_range=0.2)
    bert = BertConfig(vocab_size=len(wp), max_position_embeddings=64, **common)
    roberta = RobertaConfig(vocab_size=len(bpe), max_position_embeddings=66, pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1, **common)
    distilbert = DistilBertConfig(vocab_size=len(wp), max_position_embeddings=64, dim=32, n_layers=3, n_heads=4, hidden_dim=64, initializer_range=0.2)
    # ELECTRA with embeddings narrower than the hidden size (embeddings_project), as the small
    # discriminator has them.
    electra = ElectraConfig(vocab_size=len(wp), embedding_size=16, max_position_embeddings=64, **common)
    mpnet = MPNetConfig(vocab_size=len(bpe), max_position_embeddings=66, pad_token_id=1, bos_token_id=0, eos_token_id=2, **common)
    # DeBERTa-v3's settings, with 8 position buckets instead of 256 so that sentences of a few
    # dozen tokens reach the logarithmic buckets.
    deberta_v3 = DebertaV2Config(
        vocab_size=len(wp), max_position_embeddings=64, type_vocab_size=0, relative_attention=True, position_buckets=8,
        pos_att_type=["p2c", "c2p"], share_att_key=True, norm_rel_ebd="layer_norm", position_biased_input=False,
        max_relative_positions=-1, pad_token_id=0, layer_norm_eps=1e-7, pooler_hidden_act="gelu", **common,
    )
    # DeBERTa-v2's other paths: absolute positions and token types too, separate position
    # projections (share_att_key false), no buckets, embeddings narrower than the hidden size.
    deberta_v2 = DebertaV2Config(
        vocab_size=len(wp), max_position_embeddings=64, type_vocab_size=2, relative_attention=True, position_buckets=-1,
        pos_att_type="p2c|c2p", share_att_key=False, norm_rel_ebd="none", position_biased_input=True, embedding_size=16,
        pad_token_id=0, layer_norm_eps=1e-7, pooler_hidden_act="tanh", **common,
    )
    mb_tok = modernbert_tokenizer()
    modernbert, modernbert_biased = modernbert_configs(mb_tok)
    made = {}
    for name, cls, config, tok, labels in [
        ("bert-regression", BertForSequenceClassification, bert, wp, 1),
        ("bert-3class", BertForSequenceClassification, bert, wp, 3),
        ("roberta-regression", RobertaForSequenceClassification, roberta, bpe, 1),
        ("roberta-3class", RobertaForSequenceClassification, roberta, bpe, 3),
        ("bert-base", BertModel, bert, wp, None),
        ("roberta-base", RobertaModel, roberta, bpe, None),
        ("distilbert-regression", DistilBertForSequenceClassification, distilbert, wp, 1),
        ("distilbert-3class", DistilBertForSequenceClassification, distilbert, wp, 3),
        ("electra-regression", ElectraForSequenceClassification, electra, wp, 1),
        ("electra-3class", ElectraForSequenceClassification, electra, wp, 3),
        ("electra-base", ElectraModel, electra, wp, None),
        ("mpnet-regression", MPNetForSequenceClassification, mpnet, bpe, 1),
        ("mpnet-3class", MPNetForSequenceClassification, mpnet, bpe, 3),
        ("mpnet-base", MPNetModel, mpnet, bpe, None),
        ("deberta-regression", DebertaV2ForSequenceClassification, deberta_v3, wp, 1),
        ("deberta-3class", DebertaV2ForSequenceClassification, deberta_v3, wp, 3),
        ("deberta-base", DebertaV2Model, deberta_v3, wp, None),
        ("deberta-v2-regression", DebertaV2ForSequenceClassification, deberta_v2, wp, 1),
        ("modernbert-regression", ModernBertForSequenceClassification, modernbert, mb_tok, 1),
        ("modernbert-3class", ModernBertForSequenceClassification, modernbert_biased, mb_tok, 3),
        # As answerdotai/ModernBERT-base is published: a masked-LM checkpoint (model.*, head.*, decoder.*).
        ("modernbert-base", ModernBertForMaskedLM, modernbert, mb_tok, None),
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
        if name in ("modernbert-regression", "modernbert-base"):
            hub_style_config(out / name)
        made[name] = str(out / name)
    print(json.dumps(made))


def model_inputs(model, enc):
    """The tokenizer's output as the model takes it: DistilBERT, MPNet and ModernBERT have no token types."""
    if model.config.model_type in ("distilbert", "mpnet", "modernbert"):
        return {k: v for k, v in enc.items() if k != "token_type_ids"}
    return enc


def autocast(req, device="cpu"):
    """torch.autocast(device, bfloat16) when the request asks for "autocast": "bf16", else nothing."""
    import contextlib

    return torch.autocast(device, dtype=torch.bfloat16) if req.get("autocast") == "bf16" else contextlib.nullcontext()


def forward(request_file):
    """Each request: {"dir", "texts", "pairs"?, "max_length", "autocast"?}; one result per request."""
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    results = []
    for req in json.loads(Path(request_file).read_text()):
        model_dir = req["dir"]
        tok = AutoTokenizer.from_pretrained(model_dir)
        config = AutoConfig.from_pretrained(model_dir)
        is_classifier = any(a.endswith("ForSequenceClassification") for a in (config.architectures or []))
        model = (AutoModelForSequenceClassification if is_classifier else AutoModel).from_pretrained(model_dir).eval()
        enc = tok(req["texts"], req.get("pairs"), padding=True, truncation=True, max_length=req["max_length"], return_tensors="pt")
        with torch.no_grad(), autocast(req):
            out = model(**model_inputs(model, enc), output_hidden_states=True)
        ids, mask = enc["input_ids"].tolist(), enc["attention_mask"].tolist()
        result = {"ids": [[i for i, m in zip(r, ms) if m] for r, ms in zip(ids, mask)], "hidden": out.hidden_states[-1].tolist()}
        if is_classifier:
            result["logits"] = out.logits.tolist()
        results.append(result)
    print(json.dumps(results))


def adamw(request_file):
    req = json.loads(Path(request_file).read_text())
    dtype = {"float64": torch.float64, "float32": torch.float32}[req.get("dtype", "float64")]
    p = torch.tensor(req["param"], dtype=dtype, requires_grad=True)
    # "fused": AdamW(fused=True); "foreach": AdamW(foreach=True); default: torch's own choice.
    kernels = {"fused": {"fused": True}, "foreach": {"foreach": True}}.get(req.get("implementation"), {})
    opt = torch.optim.AdamW([p], lr=req["lr"], weight_decay=req["weight_decay"], betas=tuple(req["betas"]), eps=req["eps"], **kernels)
    for g in req["grads"]:
        opt.zero_grad()
        p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
    print(json.dumps(p.detach().tolist()))


def llrd_groups(model, req):
    """The reference article's parameter groups, written from its description: LLRD (or one
    LR), and no weight decay for biases and LayerNorm weights. Returns torch param groups."""
    config = model.config
    n_layers = config.num_hidden_layers
    prefix = model.base_model_prefix + "."
    llrd, lr, wd = req.get("llrd"), req["lr"], req["weight_decay"]

    # Encoder weights outside the layers that every layer uses sit with the embeddings, at the
    # bottom: ELECTRA's embeddings_project, MPNet's relative position bias, DeBERTa's relative
    # embeddings and their LayerNorm.
    shared = ["embeddings.", "embeddings_project.", "encoder.relative_attention_bias.", "encoder.rel_embeddings.", "encoder.LayerNorm."]

    def part(name):
        if any(name.startswith(prefix + s) for s in shared):
            return "embeddings"
        if name.startswith(prefix + "encoder.layer.") or name.startswith(prefix + "transformer.layer."):
            return "layer." + name.split(".")[3]
        # ModernBERT: model.layers.<i>; its final_norm normalizes the top layer's output, and goes with it.
        if name.startswith(prefix + "layers."):
            return "layer." + name.split(".")[2]
        if name.startswith(prefix + "final_norm."):
            return f"layer.{n_layers - 1}"
        return "head"

    def base_lr(p):
        if llrd is None:
            return lr
        if llrd["mode"] == "layerwise":
            if p == "embeddings":
                return llrd["top_lr"] * llrd["decay"] ** n_layers
            if p == "head":
                return llrd["head_lr"]
            return llrd["top_lr"] * llrd["decay"] ** (n_layers - 1 - int(p.split(".")[1]))
        sets = [(set(range(int(g["layers"].split("-")[0]), int(g["layers"].split("-")[1]) + 1)), g["lr"]) for g in llrd["groups"]]
        if p == "head":
            return llrd["head_lr"]
        if p == "embeddings":
            return min(sets, key=lambda s: min(s[0]))[1]
        return next(r for layers, r in sets if int(p.split(".")[1]) in layers)

    order = ["embeddings"] + [f"layer.{i}" for i in range(n_layers)] + ["head"]
    groups = {}
    for name, param in sorted(model.named_parameters()):
        # DistilBERT's norms are sa_layer_norm / output_layer_norm, ModernBERT's norm / attn_norm /
        # mlp_norm / final_norm: not decayed either.
        nd = any(x in name for x in ["bias", "LayerNorm.weight", "LayerNorm.bias", "layer_norm.weight", "norm.weight"])
        key = part(name) + ("/no_decay" if nd else "")
        g = groups.setdefault(key, {"name": key, "params": [], "variables": [], "lr": base_lr(part(name)), "weight_decay": 0.0 if nd else wd})
        g["params"].append(param)
        g["variables"].append(name)
    return [groups[k + s] for k in order for s in ["", "/no_decay"] if k + s in groups]


def make_schedule(opt, req, total):
    from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

    w = req["warmup_steps"]
    if req["name"] == "constant":
        return get_constant_schedule_with_warmup(opt, num_warmup_steps=w)
    make = get_linear_schedule_with_warmup if req["name"] == "linear" else get_cosine_schedule_with_warmup
    return make(opt, num_warmup_steps=w, num_training_steps=total)


def groups(request_file):
    """[{dir, llrd, lr, weight_decay}] -> the groups (name, lr, weight_decay, variables) of each."""
    from transformers import AutoModelForSequenceClassification

    out = []
    for req in json.loads(Path(request_file).read_text()):
        model = AutoModelForSequenceClassification.from_pretrained(req["dir"], num_labels=1)
        out.append([{k: g[k] for k in ("name", "lr", "weight_decay", "variables")} for g in llrd_groups(model, req)])
    print(json.dumps(out))


def schedule(request_file):
    """[{base, name, warmup_steps, total, swa?: {start, lr, anneal_steps, strategy}}] -> for
    each, every group's LR at every step, from transformers' scheduler and torch's SWALR."""
    from torch.optim.swa_utils import SWALR

    out = []
    for req in json.loads(Path(request_file).read_text()):
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in req["base"]]
        opt = torch.optim.AdamW([{"params": [p], "lr": lr} for p, lr in zip(params, req["base"])])
        sched, swa, swalr = make_schedule(opt, req, req["total"]), req.get("swa"), None
        curves = [[] for _ in params]
        for k in range(req["total"]):
            if swa and k == swa["start"]:
                swalr = SWALR(opt, swa_lr=swa["lr"], anneal_epochs=swa["anneal_steps"], anneal_strategy=swa["strategy"])
            for c, g in zip(curves, opt.param_groups):
                c.append(g["lr"])
            opt.step()
            (swalr or sched).step()
        out.append(curves)
    print(json.dumps(out))


def recipe_step(loss, model, opt, sched, swa_model, swalr, max_grad_norm):
    """One optimizer step of the article's recipe once the loss is computed: backward, clipping,
    AdamW, then either the warm-up schedule or, once SWA started, the average and SWALR."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    opt.step()
    opt.zero_grad()
    if swa_model is not None:
        swa_model.update_parameters(model)
        swalr.step()
    else:
        sched.step()


def train(request_file):
    """The reference training loop (article-style, in plain PyTorch + transformers): LLRD groups,
    torch.optim.AdamW, clip_grad_norm_, a transformers warm-up schedule, AveragedModel + SWALR.
    Batches in order, dynamic padding, on `device` (default cpu), the forward under bf16
    autocast when asked ("autocast": "bf16"). Returns per-step losses and
    the final weights' largest difference from the safetensors file `ours`."""
    from safetensors.torch import load_file
    from torch.optim.swa_utils import SWALR, AveragedModel
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    req = json.loads(Path(request_file).read_text())
    torch.manual_seed(0)
    no_dropout = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    model_type = AutoConfig.from_pretrained(req["dir"]).model_type
    if model_type == "distilbert":
        no_dropout = dict(dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0)
    if model_type == "deberta-v2":
        no_dropout.update(pooler_dropout=0.0, cls_dropout=0.0)
    if model_type == "modernbert":
        no_dropout = dict(embedding_dropout=0.0, attention_dropout=0.0, mlp_dropout=0.0, classifier_dropout=0.0)
    device = req.get("device", "cpu")
    # Set on the config: MPNet's and DeBERTa's configs have no classifier_dropout, and
    # from_pretrained would hand an unknown keyword to the model's constructor.
    config = AutoConfig.from_pretrained(req["dir"])
    for key, value in no_dropout.items():
        setattr(config, key, value)
    model = AutoModelForSequenceClassification.from_pretrained(req["dir"], config=config).to(device).train()
    tok = AutoTokenizer.from_pretrained(req["dir"])
    opt = torch.optim.AdamW(
        [{"params": g["params"], "lr": g["lr"], "weight_decay": g["weight_decay"]} for g in llrd_groups(model, req)],
        betas=tuple(req["betas"]), eps=req["eps"],
    )
    texts, targets, bs = req["texts"], req["targets"], req["batch_size"]
    steps_per_epoch = (len(texts) + bs - 1) // bs
    total = steps_per_epoch * req["epochs"]
    sched, swa = make_schedule(opt, req["schedule"], total), req.get("swa")
    swa_model = swalr = None
    losses, step = [], 0
    for _epoch in range(req["epochs"]):
        for at in range(0, len(texts), bs):
            if swa and step == swa["start"]:
                swa_model = AveragedModel(model)
                swalr = SWALR(opt, swa_lr=swa["lr"], anneal_epochs=swa["anneal_steps"], anneal_strategy=swa["strategy"])
            enc = tok(texts[at : at + bs], padding=True, truncation=True, max_length=req["max_length"], return_tensors="pt")
            with autocast(req, device):
                logits = model(**model_inputs(model, enc.to(device))).logits.float()
            y = targets[at : at + bs]
            if req["task"] == "classification":
                loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y, dtype=torch.long, device=device))
            else:
                loss = torch.nn.functional.mse_loss(logits.squeeze(-1), torch.tensor(y, dtype=torch.float32, device=device))
            recipe_step(loss, model, opt, sched, swa_model, swalr, req["max_grad_norm"])
            losses.append(loss.item())
            step += 1
    final = (swa_model.module if swa_model is not None else model).state_dict()
    ours = load_file(req["ours"])
    diffs = {k: (final[k].cpu() - ours[k]).abs().max().item() for k in ours}
    worst = max(diffs, key=diffs.get)
    print(json.dumps({"losses": losses, "max_weight_diff": diffs[worst], "worst": worst, "compared": len(diffs), "missing": sorted(set(final) - set(ours))}))


def snippets(request_file):
    """Each snippet runs in a fresh namespace, as a user pasting it would run it."""
    import os
    import tempfile

    import numpy as np
    import transformers

    # The load reports a user sees (the suite's environment quiets transformers otherwise).
    transformers.logging.set_verbosity_warning()
    results = []
    for req in json.loads(Path(request_file).read_text()):
        lines = req["code"].split("\n")
        at = [i for i, line in enumerate(lines) if line.startswith("texts = [")]
        assert len(at) == 1, f"the snippet must set texts once: {req['code']}"
        lines[at[0]] = f"texts = {json.dumps(req['texts'])}"
        if "second_texts" in req:
            pair = [i for i, line in enumerate(lines) if line.startswith("second_texts = [")]
            assert len(pair) == 1, "the snippet must set second_texts once"
            lines[pair[0]] = f"second_texts = {json.dumps(req['second_texts'])}"
        # What transformers and sentence-transformers report while loading (a MISSING or
        # UNEXPECTED weight means the folder did not load as saved), from file descriptor 2,
        # where their handlers write whatever Python object they hold as stderr.
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile(mode="w+b") as log:
            os.dup2(log.fileno(), 2)
            try:
                namespace = {"__name__": "__snippet__"}
                exec("\n".join(lines), namespace)
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
            log.seek(0)
            text = log.read().decode("utf8", "replace")
        logits = namespace["logits"]
        logits = logits.detach().cpu().numpy() if hasattr(logits, "detach") else np.asarray(logits)
        results.append({"logits": logits.astype(np.float64).tolist(), "log": text})
    print(json.dumps(results))


def old_layout(request_file):
    """Every tensor in one model.safetensors with the `bert.` prefix and the head under `head.`,
    and ftune.json saying the pooling: how mean-pooled folders were saved before."""
    import shutil

    from safetensors.numpy import load_file, save_file

    req = json.loads(Path(request_file).read_text())
    src, dst = Path(req["src"]), Path(req["dst"])
    dst.mkdir(parents=True)
    tensors = {f"{req['prefix']}.{k}": v for k, v in load_file(src / "model.safetensors").items() if not k.startswith("pooler.")}
    dense = load_file(src / "2_Dense" / "model.safetensors")
    tensors["head.out.weight"], tensors["head.out.bias"] = dense["linear.weight"], dense["linear.bias"]
    save_file(tensors, dst / "model.safetensors")
    for f in src.iterdir():
        if f.is_file() and f.name not in ("model.safetensors", "modules.json", "config_sentence_transformers.json", "sentence_bert_config.json"):
            shutil.copy(f, dst / f.name)
    print(json.dumps({"written": sorted(p.name for p in dst.iterdir())}))


def resave(request_file):
    """Each request: {"src", "dst", "safe", "max_shard_size"?}: the model at src saved again as
    safetensors (transformers' save_pretrained) or as pytorch_model.bin (huggingface_hub's
    torch.save writer, what save_pretrained(safe_serialization=False) wrote before
    transformers 5), sharded when asked, with its tokenizer; prints the files written."""
    import shutil

    from huggingface_hub import save_torch_state_dict
    from transformers import AutoModelForSequenceClassification

    written = []
    for req in json.loads(Path(request_file).read_text()):
        src, dst = Path(req["src"]), Path(req["dst"])
        model = AutoModelForSequenceClassification.from_pretrained(src)
        shard = {"max_shard_size": req["max_shard_size"]} if req.get("max_shard_size") else {}
        if req["safe"]:
            model.save_pretrained(dst, **shard)
        else:
            model.config.save_pretrained(dst)
            save_torch_state_dict(model.state_dict(), dst, safe_serialization=False, **shard)
        for f in src.iterdir():
            if f.name.startswith("tokenizer") or f.name in ("special_tokens_map.json", "vocab.txt"):
                shutil.copy(f, dst / f.name)
        written.append(sorted(p.name for p in dst.iterdir()))
    print(json.dumps(written))


if __name__ == "__main__":
    torch.set_num_threads(1)
    command, *args = sys.argv[1:]
    {"fixtures": fixtures, "forward": forward, "adamw": adamw, "groups": groups, "schedule": schedule, "train": train, "snippets": snippets, "old_layout": old_layout, "resave": resave}[command](*args)
