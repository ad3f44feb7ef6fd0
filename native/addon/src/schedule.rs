//! `LrSchedule`: every group's learning rate at every optimizer step, from the same code that
//! trains (warm-up schedule, then SWALR).

use std::path::Path;

use napi::Result;
use napi_derive::napi;

use ftune_engine::model::{ModelOptions, SequenceModel};
use ftune_engine::schedule::LrPlan;

use crate::{js_error_chain, parse_config};

#[napi(object)]
pub struct ParamGroupInfo {
    /// `embeddings`, `layer.<i>` or `head`, with `/no_decay` for the decay-free twin.
    pub name: String,
    /// Base LR, before the schedule scales it.
    pub lr: f64,
    pub weight_decay: f64,
    /// Number of scalar parameters.
    pub params: i64,
    /// Variable names (Hugging Face names).
    pub variables: Vec<String>,
}

#[napi]
pub struct LrSchedule {
    plan: LrPlan,
    groups: Vec<ParamGroupInfo>,
}

#[napi]
impl LrSchedule {
    /// Builds the plan for an experiment config on its model's structure (weights are not read).
    #[napi(factory)]
    pub fn create(
        config_json: String,
        steps_per_epoch: u32,
        num_labels: Option<i64>,
    ) -> Result<Self> {
        let config = parse_config(&config_json)?;
        let opts = ModelOptions {
            num_labels: num_labels.or(Some(1)),
            pooling: Some(config.head.pooling),
            max_length: Some(config.data.max_length),
            ..Default::default()
        };
        let model =
            SequenceModel::skeleton(Path::new(&config.model), &opts).map_err(js_error_chain)?;
        let (groups, plan) =
            ftune_engine::train::lr_plan(&config, &model, steps_per_epoch as usize)
                .map_err(js_error_chain)?;
        let groups = groups
            .into_iter()
            .map(|g| ParamGroupInfo {
                name: g.name,
                lr: g.lr,
                weight_decay: g.weight_decay,
                params: g.numel,
                variables: g.params,
            })
            .collect();
        Ok(Self { plan, groups })
    }

    #[napi]
    pub fn groups(&self) -> Vec<ParamGroupInfo> {
        self.groups
            .iter()
            .map(|g| ParamGroupInfo {
                name: g.name.clone(),
                lr: g.lr,
                weight_decay: g.weight_decay,
                params: g.params,
                variables: g.variables.clone(),
            })
            .collect()
    }

    #[napi(getter)]
    pub fn total_steps(&self) -> u32 {
        self.plan.total_steps() as u32
    }

    #[napi(getter)]
    pub fn warmup_steps(&self) -> u32 {
        self.plan.warmup.warmup as u32
    }

    /// The optimizer step (from 0) at which SWA and SWALR take over, if SWA is on.
    #[napi(getter)]
    pub fn swa_start_step(&self) -> Option<u32> {
        self.plan.swa.map(|s| s.start as u32)
    }

    /// Every group's LR for optimizer step `step` (from 0), in `groups()` order.
    #[napi]
    pub fn lr_at(&self, step: u32) -> Vec<f64> {
        self.plan.lrs(step as usize)
    }

    /// `curves()[g][k]`: group g's LR at every step of the run.
    #[napi]
    pub fn curves(&self) -> Vec<Vec<f64>> {
        self.plan.curves()
    }
}
