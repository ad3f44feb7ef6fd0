"""The article's training loop (train-roberta-advanced, see /work/shared/notes/article-notebook.md),
ported to today's transformers + torch for `npm run bench -- --only article`: one fold, end to end.

Kept from the article: a transformers encoder whose pooler output feeds a Linear(hidden, 1);
sqrt(MSE) per batch as the loss; `padding="max_length"`; one AdamW param group per parameter
tensor (no weight decay for bias / LayerNorm), its LR from grouped LLRD; a linear schedule with
warm-up; re-init of the top n encoder layers and the pooler's dense layer; AveragedModel + SWALR
from a given epoch, the average updated and SWALR stepped instead of the schedule on every batch
of that phase; validation of the live model every n batches (and at each epoch's last batch),
scored as the mean of per-batch RMSE, the best state saved with torch.save when it improves.

Scaled for the bundled MiniLM-L6 (6 layers, not roberta-base's 12): the grouped LLRD's three
layer sets are layers 0-1 / 2-3 / 4-5 (the article's 0-3 / 4-7 / 8-11, embeddings with the
first set), and "every n batches" counts optimizer steps across epochs, as the engine's
`eval.every_steps` does, so both evaluate at the same steps.

Prints one JSON line: seconds end to end (model load to final score) and the CPU seconds the
process spent in that span (all threads), training samples/s, the
best score (article's mean per-batch RMSE) and the RMSE over the whole fold at that point, and
the SWA average's final scores.
"""

import json
import sys
import tempfile
import time

import torch


def groups(model, req):
    """One param group per tensor: grouped LLRD (embeddings with the first set), head LR for
    the pooler and the regressor, no weight decay for biases and LayerNorm weights."""
    llrd = req["llrd"]
    sets = [(set(range(int(g["layers"].split("-")[0]), int(g["layers"].split("-")[1]) + 1)), g["lr"]) for g in llrd["groups"]]

    def lr_of(name):
        if name.startswith("encoder.embeddings."):
            return min(sets, key=lambda s: min(s[0]))[1]
        if name.startswith("encoder.encoder.layer."):
            layer = int(name.split(".")[3])
            return next(lr for layers, lr in sets if layer in layers)
        return llrd["head_lr"]  # encoder.pooler.*, regressor.*

    out = []
    for name, p in model.named_parameters():
        nd = any(x in name for x in ["bias", "LayerNorm.bias", "LayerNorm.weight"])
        out.append({"params": [p], "lr": lr_of(name), "weight_decay": 0.0 if nd else req["weight_decay"]})
    return out


class Model(torch.nn.Module):
    def __init__(self, path):
        from transformers import AutoModel

        super().__init__()
        # fp32 master weights even from fp16 files (bench/gpu-plan's model) or a transformers
        # that loads in the file's dtype by default.
        self.encoder = AutoModel.from_pretrained(path, add_pooling_layer=True).float()
        self.regressor = torch.nn.Linear(self.encoder.config.hidden_size, 1)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return self.regressor(out.pooler_output).squeeze(-1)


def reinit(model, top_n):
    """The article's re-init: the top n layers' Linear weights N(0, initializer_range), biases 0,
    LayerNorm 1 / 0; and the pooler's dense layer the same way."""
    std = model.encoder.config.initializer_range
    modules = [m for layer in model.encoder.encoder.layer[-top_n:] for m in layer.modules()] if top_n else []
    for m in [*modules, model.encoder.pooler.dense]:
        if isinstance(m, torch.nn.Linear):
            m.weight.data.normal_(0.0, std)
            if m.bias is not None:
                m.bias.data.zero_()
        elif isinstance(m, torch.nn.LayerNorm):
            m.weight.data.fill_(1.0)
            m.bias.data.zero_()


def main():
    req = json.loads(open(sys.argv[1]).read())
    from torch.optim.swa_utils import SWALR, AveragedModel
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    device = req.get("device", "cpu")
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=req.get("precision") == "bf16")
    # Timings read the clock after the GPU's queued work is done, not when it was queued.
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    started, cpu_started = time.perf_counter(), time.process_time()
    torch.manual_seed(req["seed"])
    tok = AutoTokenizer.from_pretrained(req["dir"])
    model = Model(req["dir"])
    reinit(model, req["reinit_top"])
    model.to(device)

    def encode(texts):
        enc = tok(texts, padding="max_length", truncation=True, max_length=req["max_length"], return_tensors="pt")
        return {k: v.to(device) for k, v in enc.items()}

    train, valid = encode(req["texts"]), encode(req["valid_texts"])
    y = torch.tensor(req["targets"], dtype=torch.float32, device=device)
    y_valid = torch.tensor(req["valid_targets"], dtype=torch.float32, device=device)
    bs, vbs, epochs = req["batch_size"], req["eval_batch_size"], req["epochs"]
    n = len(req["texts"])
    per_epoch = (n + bs - 1) // bs
    opt = torch.optim.AdamW(groups(model, req), eps=req["eps"])
    sched = get_linear_schedule_with_warmup(opt, req["warmup_steps"], per_epoch * epochs)
    swa_model = swalr = None
    best, best_path = float("inf"), tempfile.NamedTemporaryFile(suffix=".pt", delete=True).name

    def validate(m):
        m.eval()
        scores, preds = [], []
        with torch.no_grad(), autocast:
            for at in range(0, len(y_valid), vbs):
                p = m(**{k: v[at : at + vbs] for k, v in valid.items()}).float()
                scores.append(torch.sqrt(torch.nn.functional.mse_loss(p, y_valid[at : at + vbs])).item())
                preds.append(p)
        m.train()
        fold_rmse = torch.sqrt(torch.nn.functional.mse_loss(torch.cat(preds), y_valid)).item()
        return sum(scores) / len(scores), fold_rmse

    step, train_seconds, evals, best_fold = 0, 0.0, 0, float("nan")
    g = torch.Generator().manual_seed(req["seed"])
    model.train()
    for epoch in range(epochs):
        if epoch == req["swa_start_epoch"]:
            swa_model = AveragedModel(model)
            swalr = SWALR(opt, swa_lr=req["swa_lr"], anneal_epochs=req["swa_anneal_steps"], anneal_strategy="cos")
        order = torch.randperm(n, generator=g).to(device)
        sync()
        t0 = time.perf_counter()
        for i in range(per_epoch):
            rows = order[i * bs : (i + 1) * bs]
            with autocast:
                pred = model(**{k: v[rows] for k, v in train.items()}).float()
            loss = torch.sqrt(torch.nn.functional.mse_loss(pred, y[rows]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), req["max_grad_norm"])
            opt.step()
            opt.zero_grad()
            if swa_model is not None:
                swa_model.update_parameters(model)
                swalr.step()
            else:
                sched.step()
            step += 1
            if step % req["eval_every"] == 0 or i == per_epoch - 1:
                sync()
                train_seconds += time.perf_counter() - t0
                score, fold_rmse = validate(model)
                evals += 1
                if score < best:
                    best, best_fold = score, fold_rmse
                    torch.save(model.state_dict(), best_path)
                t0 = time.perf_counter()
        sync()
        train_seconds += time.perf_counter() - t0
    swa_score, swa_fold = validate(swa_model.module) if swa_model is not None else (float("nan"), float("nan"))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    print(json.dumps({
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "train_samples_per_second": n * epochs / train_seconds,
        "steps": step,
        "evaluations": evals + (swa_model is not None),
        "best_article_score": best,
        "best_rmse": best_fold,
        "swa_article_score": swa_score,
        "swa_rmse": swa_fold,
        "threads": torch.get_num_threads(),
        "precision": req.get("precision", "fp32"),
        "device": device,
    }))


if __name__ == "__main__":
    main()
