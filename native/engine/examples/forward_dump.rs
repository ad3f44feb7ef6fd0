//! The encoder's last hidden states for a few texts, written as safetensors, so that a Python
//! script can check them against transformers on the same device (`bench/gpu.sh` does on CUDA).
//!
//!   forward_dump MODEL_DIR TEXTS_JSON OUT.safetensors [--device auto] [--max-length 128]

use std::path::Path;

use anyhow::{Context, Result};
use ftune_engine::model::{ModelOptions, SequenceModel};
use ftune_engine::runtime::parse_device;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model_dir, texts, out, ..] = args.as_slice() else {
        anyhow::bail!("usage: forward_dump MODEL_DIR TEXTS_JSON OUT.safetensors [--device D] [--max-length N]");
    };
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let device = parse_device(flag("--device").map_or("auto", String::as_str))?;
    let max_length = flag("--max-length").map(|s| s.parse()).transpose()?;
    let texts: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(texts).context("cannot read the texts")?)?;
    let model = SequenceModel::load(
        Path::new(model_dir),
        &ModelOptions {
            device,
            max_length,
            ..Default::default()
        },
    )?;
    let encoded = model.encode(&texts, None)?;
    let batch = model.collate(&encoded.iter().collect::<Vec<_>>());
    let hidden = tch::no_grad(|| model.hidden_states(&batch, false));
    tch::Tensor::write_safetensors(
        &[
            ("input_ids", batch.input_ids),
            ("attention_mask", batch.attention_mask),
            ("token_type_ids", batch.token_type_ids),
            ("hidden", hidden.to_device(tch::Device::Cpu)),
        ],
        out,
    )?;
    println!(
        "{}",
        serde_json::json!({ "device": format!("{device:?}"), "texts": texts.len() })
    );
    Ok(())
}
