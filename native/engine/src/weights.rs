//! A Hugging Face folder's weights, in any of the forms `from_pretrained` reads, in its order:
//! `model.safetensors`, `model.safetensors.index.json` (shards), `pytorch_model.bin` (a
//! torch.save zip of a state dict, read by libtorch's unpickler through `cpp/pickle.cpp`), and
//! `pytorch_model.bin.index.json`.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use tch::Tensor;
use torch_sys::C_tensor;

pub const SAFETENSORS: &str = "model.safetensors";
pub const SAFETENSORS_INDEX: &str = "model.safetensors.index.json";
pub const TORCH_BIN: &str = "pytorch_model.bin";
pub const TORCH_BIN_INDEX: &str = "pytorch_model.bin.index.json";

/// The weights file (or shard index) of `dir` that loading reads, `None` when it has none.
pub fn weights_file(dir: &Path) -> Option<PathBuf> {
    [SAFETENSORS, SAFETENSORS_INDEX, TORCH_BIN, TORCH_BIN_INDEX]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// As `weights_file`, with a message saying what a folder without weights lacks.
pub fn find_weights(dir: &Path) -> Result<PathBuf> {
    weights_file(dir).with_context(|| {
        format!(
            "{} has no weights: none of {SAFETENSORS}, {TORCH_BIN} or their sharded *.index.json",
            dir.display()
        )
    })
}

/// Every tensor of the folder's checkpoint by name, and the file it came from (for messages).
pub fn read_weights(dir: &Path) -> Result<(PathBuf, HashMap<String, Tensor>)> {
    let path = find_weights(dir)?;
    let tensors = if path.ends_with(SAFETENSORS_INDEX) || path.ends_with(TORCH_BIN_INDEX) {
        read_sharded(&path)?
    } else {
        read_file(&path)?
    };
    Ok((path, tensors))
}

/// One safetensors or pytorch_model.bin file, told apart by its name.
pub fn read_file(path: &Path) -> Result<HashMap<String, Tensor>> {
    if path.extension().is_some_and(|e| e == "safetensors") {
        read_safetensors(path)
    } else {
        read_torch_bin(path)
    }
}

/// Every tensor of a safetensors file, by name.
pub fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    Ok(Tensor::read_safetensors(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .into_iter()
        .collect())
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: HashMap<String, String>,
}

/// The shards an `*.index.json` names, merged; every tensor it lists must be in its shard.
fn read_sharded(index: &Path) -> Result<HashMap<String, Tensor>> {
    let text = std::fs::read_to_string(index)
        .with_context(|| format!("cannot read {}", index.display()))?;
    let parsed: ShardIndex = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a shard index (a JSON object with a \"weight_map\" of tensor → file)",
            index.display()
        )
    })?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let shards: BTreeSet<&String> = parsed.weight_map.values().collect();
    let mut tensors = HashMap::new();
    for shard in shards {
        // A plain file name beside the index: an index cannot point elsewhere on the disk.
        if shard.contains(['/', '\\']) || shard == ".." || shard.is_empty() {
            bail!(
                "{} names the shard \"{shard}\", which is not a file name",
                index.display()
            );
        }
        let path = dir.join(shard);
        if !path.is_file() {
            bail!(
                "{} names the shard {shard}, which is missing from {}: the download is incomplete",
                index.display(),
                dir.display()
            );
        }
        tensors.extend(read_file(&path)?);
    }
    if let Some((name, shard)) = parsed
        .weight_map
        .iter()
        .find(|(n, _)| !tensors.contains_key(*n))
    {
        bail!(
            "{} lists {name} in {shard}, which does not hold it",
            index.display()
        );
    }
    Ok(tensors)
}

extern "C" {
    fn ftune_pickle_load_state_dict(
        path: *const c_char,
        ctx: *mut c_void,
        add: extern "C" fn(*mut c_void, *const c_char, *mut C_tensor),
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
}

extern "C" fn add_entry(ctx: *mut c_void, name: *const c_char, tensor: *mut C_tensor) {
    // SAFETY: `ctx` is the Vec passed below, `name` a NUL-terminated string the shim owns for
    // the call, and `tensor` a fresh torch::Tensor* whose ownership passes to tch.
    unsafe {
        let out = &mut *(ctx as *mut Vec<(String, Tensor)>);
        let name = CStr::from_ptr(name).to_string_lossy().into_owned();
        out.push((name, Tensor::from_ptr(tensor)));
    }
}

/// A torch.save'd state dict (`pytorch_model.bin`), read without Python.
pub fn read_torch_bin(path: &Path) -> Result<HashMap<String, Tensor>> {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())
        .with_context(|| format!("{} is not a usable path", path.display()))?;
    let mut entries: Vec<(String, Tensor)> = vec![];
    let mut err = [0 as c_char; 1024];
    // SAFETY: the shim only calls `add_entry` with `entries` during the call, and writes a
    // NUL-terminated message into `err` (snprintf) when it fails.
    let rc = unsafe {
        ftune_pickle_load_state_dict(
            c_path.as_ptr(),
            &mut entries as *mut _ as *mut c_void,
            add_entry,
            err.as_mut_ptr(),
            err.len(),
        )
    };
    if rc != 0 {
        // SAFETY: see above.
        let message = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
        let first = message.lines().next().unwrap_or("").trim();
        bail!(
            "cannot read {} as a PyTorch state dict (a torch.save zip): {first}",
            path.display()
        );
    }
    Ok(entries.into_iter().collect())
}
