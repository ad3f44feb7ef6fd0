//! The experiment config: the stable, documented names users write in YAML or JSON.
//!
//! Parsing is strict (unknown keys are errors naming the allowed ones, so typos don't pass
//! silently) and every error names its field path, e.g. `schedule.name: unknown variant ...`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::heads::Pooling;

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Local Hugging Face folder.
    pub model: String,
    #[serde(default)]
    pub task: Task,
    pub data: DataConfig,
    #[serde(default)]
    pub folds: FoldsConfig,
    #[serde(default)]
    pub head: HeadConfig,
    /// Overrides hidden and attention dropout inside the encoder (e.g. 0 for regression).
    #[serde(default)]
    pub encoder_dropout: Option<f64>,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub llrd: Option<Llrd>,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub reinit: ReinitConfig,
    #[serde(default)]
    pub swa: Option<SwaConfig>,
    #[serde(default)]
    pub eval: EvalConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    #[default]
    Regression,
    Classification,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub train: String,
    #[serde(default)]
    pub valid: Option<String>,
    pub text: String,
    /// Second text column, for pair tasks.
    #[serde(default)]
    pub text_pair: Option<String>,
    pub label: String,
    /// Column for `folds.strategy: group`.
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default = "d_max_length")]
    pub max_length: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum FoldStrategy {
    Random,
    #[default]
    Stratified,
    Group,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(untagged)]
pub enum FoldSelection {
    All(AllFolds),
    Some(Vec<usize>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum AllFolds {
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct FoldsConfig {
    #[serde(default = "d_k")]
    pub k: usize,
    #[serde(default)]
    pub strategy: FoldStrategy,
    #[serde(default = "d_seed")]
    #[ts(type = "number")]
    pub seed: u64,
    #[serde(default = "d_run")]
    pub run: FoldSelection,
    /// Target bins for stratified regression splits (default: Sturges' rule).
    #[serde(default)]
    pub bins: Option<usize>,
}

impl Default for FoldsConfig {
    fn default() -> Self {
        Self {
            k: d_k(),
            strategy: FoldStrategy::default(),
            seed: d_seed(),
            run: d_run(),
            bins: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct HeadConfig {
    #[serde(default = "d_pooling")]
    pub pooling: Pooling,
    /// Default: the model's classifier dropout (or hidden dropout).
    #[serde(default)]
    pub dropout: Option<f64>,
}

impl Default for HeadConfig {
    fn default() -> Self {
        Self {
            pooling: d_pooling(),
            dropout: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// bf16 autocast on CUDA, fp32 on CPU (bf16 on a CPU changes results: asked for, never
    /// implied).
    #[default]
    Auto,
    Fp32,
    Bf16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    Mse,
    Rmse,
    Huber,
    CrossEntropy,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    #[serde(default = "d_eval_batch")]
    pub eval_batch_size: usize,
    #[serde(default = "d_one")]
    pub grad_accum: usize,
    /// Clip the global gradient norm to this; null turns clipping off.
    #[serde(default = "d_max_grad_norm")]
    pub max_grad_norm: Option<f64>,
    #[serde(default = "d_seed")]
    #[ts(type = "number")]
    pub seed: u64,
    #[serde(default = "d_true")]
    pub shuffle: bool,
    /// Batches of rows of similar length (transformers' `group_by_length`): less padding,
    /// faster steps; which rows share a batch changes, so results do too.
    #[serde(default)]
    pub group_by_length: bool,
    #[serde(default)]
    pub precision: Precision,
    /// Default: mse for regression, cross_entropy for classification.
    #[serde(default)]
    pub loss: Option<Loss>,
    /// "auto" | "cpu" | "cuda" | "cuda:N".
    #[serde(default = "d_device")]
    pub device: String,
}

impl Default for TrainConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults parse")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// The single learning rate when LLRD is off.
    #[serde(default = "d_lr")]
    pub lr: f64,
    #[serde(default = "d_wd")]
    pub weight_decay: f64,
    #[serde(default = "d_betas")]
    pub betas: [f64; 2],
    #[serde(default = "d_eps")]
    pub eps: f64,
    /// false gives the original BERT optimizer ("BERTAdam", Zhang et al. 2021).
    #[serde(default = "d_true")]
    pub bias_correction: bool,
    /// Which of libtorch's AdamW kernels run the update.
    #[serde(default)]
    pub implementation: AdamWImplementation,
}

/// torch.optim.AdamW's kernel choice: `fused` (fused=True), `foreach` (foreach=True; the
/// default for-loop's arithmetic), `auto`: fused unless bias correction is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum AdamWImplementation {
    #[default]
    Auto,
    Fused,
    Foreach,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults parse")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum Llrd {
    /// Layer i of L gets top_lr·decay^(L−1−i); embeddings top_lr·decay^L.
    Layerwise {
        top_lr: f64,
        decay: f64,
        head_lr: f64,
    },
    /// Sets of layers with their own LR; embeddings ride with the lowest set.
    Grouped { head_lr: f64, groups: Vec<LayerSet> },
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct LayerSet {
    /// "0-3", "0,2,4" or a list of layer indices.
    pub layers: LayerSpec,
    pub lr: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(untagged)]
pub enum LayerSpec {
    Text(String),
    List(Vec<usize>),
}

impl LayerSpec {
    pub fn indices(&self) -> Result<Vec<usize>, String> {
        let list = match self {
            LayerSpec::List(v) => v.clone(),
            LayerSpec::Text(t) => {
                let mut out = vec![];
                for part in t.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let bad = || format!("'{t}' is not a layer list like \"0-3\" or \"0,2,4\"");
                    match part.split_once('-') {
                        Some((a, b)) => {
                            let (a, b): (usize, usize) = (
                                a.trim().parse().map_err(|_| bad())?,
                                b.trim().parse().map_err(|_| bad())?,
                            );
                            if a > b {
                                return Err(bad());
                            }
                            out.extend(a..=b);
                        }
                        None => out.push(part.parse().map_err(|_| bad())?),
                    }
                }
                out
            }
        };
        Ok(list)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleName {
    #[default]
    Linear,
    Cosine,
    Constant,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    #[serde(default)]
    pub name: ScheduleName,
    #[serde(default)]
    pub warmup_steps: Option<usize>,
    /// Fraction of all optimizer steps, rounded up as transformers does.
    #[serde(default)]
    pub warmup_ratio: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ReinitConfig {
    #[serde(default)]
    pub top_layers: usize,
    #[serde(default)]
    pub pooler: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum AnnealStrategy {
    #[default]
    Cos,
    Linear,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SwaConfig {
    /// First epoch (from 1) whose first optimizer step starts SWA.
    #[serde(default)]
    pub start_epoch: Option<usize>,
    /// Or the optimizer step (from 0) that starts it.
    #[serde(default)]
    pub start_step: Option<usize>,
    pub lr: f64,
    #[serde(default)]
    pub anneal_steps: usize,
    #[serde(default)]
    pub anneal_strategy: AnnealStrategy,
    /// When the average is scored on the validation rows.
    #[serde(default)]
    pub evaluate: SwaEvaluate,
}

/// When a run scores the SWA average. Each scoring is a full pass over the validation rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum SwaEvaluate {
    /// At every evaluation from SWA's start, beside the live model: its curve is charted and
    /// the best checkpoint may be the average. Doubles evaluation cost in the SWA phase.
    #[default]
    Each,
    /// Once, after the last step (as the article's loop does: validation and checkpoints use
    /// the live model). The average competes for best then only if that step was evaluated.
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Rmse,
    Mae,
    R2,
    Pearson,
    Accuracy,
    MacroF1,
    LogLoss,
}

impl Metric {
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::R2 | Metric::Pearson | Metric::Accuracy | Metric::MacroF1
        )
    }

    pub fn for_task(self) -> Task {
        match self {
            Metric::Rmse | Metric::Mae | Metric::R2 | Metric::Pearson => Task::Regression,
            _ => Task::Classification,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
            Metric::Pearson => "pearson",
            Metric::Accuracy => "accuracy",
            Metric::MacroF1 => "macro_f1",
            Metric::LogLoss => "log_loss",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Validate every this many optimizer steps (and at each epoch's end); null: epochs only.
    #[serde(default)]
    pub every_steps: Option<usize>,
    /// Default: rmse for regression, accuracy for classification.
    #[serde(default)]
    pub metric: Option<Metric>,
    #[serde(default = "d_true")]
    pub save_best: bool,
    /// Stop after this many evaluations without improvement.
    #[serde(default)]
    pub early_stopping_patience: Option<usize>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults parse")
    }
}

fn d_max_length() -> usize {
    256
}
fn d_k() -> usize {
    5
}
fn d_seed() -> u64 {
    42
}
fn d_run() -> FoldSelection {
    FoldSelection::All(AllFolds::All)
}
fn d_pooling() -> Pooling {
    Pooling::Cls
}
fn d_epochs() -> usize {
    3
}
fn d_batch() -> usize {
    8
}
fn d_eval_batch() -> usize {
    32
}
fn d_one() -> usize {
    1
}
fn d_max_grad_norm() -> Option<f64> {
    Some(1.0)
}
fn d_true() -> bool {
    true
}
fn d_device() -> String {
    "auto".into()
}
fn d_lr() -> f64 {
    2e-5
}
fn d_wd() -> f64 {
    0.01
}
fn d_betas() -> [f64; 2] {
    [0.9, 0.999]
}
fn d_eps() -> f64 {
    1e-6
}

impl ExperimentConfig {
    /// Parses JSON (the TypeScript side turns YAML into JSON first) and checks every value
    /// that does not need the model; errors name the field.
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let config: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            // serde_json appends a JSON position, meaningless to someone who wrote YAML.
            let inner = e.into_inner().to_string();
            let inner = inner.split(" at line ").next().unwrap_or_default();
            if path == "." {
                anyhow::anyhow!("config: {inner}")
            } else {
                anyhow::anyhow!("{path}: {inner}")
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The config with every default explicit, the task's metric and loss included: what
    /// the app stores and shows, so no other layer has to know a default.
    pub fn normalized(mut self) -> Self {
        self.eval.metric = Some(self.metric());
        self.train.loss = Some(self.loss());
        self
    }

    /// Every default for `task`, around placeholder model and data (the builder's start).
    pub fn defaults(task: Task) -> Self {
        let json = serde_json::json!({
            "model": "bundled",
            "task": task,
            "data": {"train": "", "text": "", "label": ""},
        });
        Self::from_json(&json.to_string())
            .expect("the defaults are valid")
            .normalized()
    }

    pub fn loss(&self) -> Loss {
        self.train.loss.unwrap_or(match self.task {
            Task::Regression => Loss::Mse,
            Task::Classification => Loss::CrossEntropy,
        })
    }

    pub fn metric(&self) -> Metric {
        self.eval.metric.unwrap_or(match self.task {
            Task::Regression => Metric::Rmse,
            Task::Classification => Metric::Accuracy,
        })
    }

    /// Every check that does not need the model, section by section.
    fn validate(&self) -> anyhow::Result<()> {
        self.validate_train()?;
        self.validate_llrd()?;
        self.validate_schedule_and_swa()?;
        self.validate_folds()?;
        self.validate_model_settings()?;
        self.validate_task_fit()
    }

    fn validate_train(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        let t = &self.train;
        ensure!(t.epochs >= 1, "train.epochs must be at least 1");
        ensure!(t.batch_size >= 1, "train.batch_size must be at least 1");
        ensure!(
            t.eval_batch_size >= 1,
            "train.eval_batch_size must be at least 1"
        );
        ensure!(t.grad_accum >= 1, "train.grad_accum must be at least 1");
        if let Some(n) = t.max_grad_norm {
            ensure!(
                n > 0.0,
                "train.max_grad_norm must be positive (or null to turn clipping off), got {n}"
            );
        }
        let o = &self.optimizer;
        ensure!(o.lr > 0.0, "optimizer.lr must be positive, got {}", o.lr);
        ensure!(
            o.weight_decay >= 0.0,
            "optimizer.weight_decay must be ≥ 0, got {}",
            o.weight_decay
        );
        ensure!(
            o.betas.iter().all(|b| (0.0..1.0).contains(b)),
            "optimizer.betas must both be in [0, 1), got {:?}",
            o.betas
        );
        ensure!(o.eps > 0.0, "optimizer.eps must be positive, got {}", o.eps);
        ensure!(
            o.bias_correction || o.implementation != AdamWImplementation::Fused,
            "optimizer.implementation fused always corrects bias; with bias_correction false use foreach or auto"
        );
        Ok(())
    }

    fn validate_llrd(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        match &self.llrd {
            Some(Llrd::Layerwise {
                top_lr,
                decay,
                head_lr,
            }) => {
                ensure!(
                    *top_lr > 0.0 && *head_lr > 0.0,
                    "llrd.top_lr and llrd.head_lr must be positive"
                );
                ensure!(
                    *decay > 0.0 && *decay <= 1.0,
                    "llrd.decay must be in (0, 1], got {decay}"
                );
            }
            Some(Llrd::Grouped { head_lr, groups }) => {
                ensure!(*head_lr > 0.0, "llrd.head_lr must be positive");
                ensure!(
                    !groups.is_empty(),
                    "llrd.groups must list at least one set of layers"
                );
                for (i, g) in groups.iter().enumerate() {
                    ensure!(g.lr > 0.0, "llrd.groups[{i}].lr must be positive");
                    g.layers
                        .indices()
                        .map_err(|e| anyhow::anyhow!("llrd.groups[{i}].layers: {e}"))?;
                }
            }
            None => {}
        }
        Ok(())
    }

    fn validate_schedule_and_swa(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        let t = &self.train;
        let s = &self.schedule;
        ensure!(
            !(s.warmup_steps.is_some() && s.warmup_ratio.is_some()),
            "schedule: give warmup_steps or warmup_ratio, not both"
        );
        if let Some(r) = s.warmup_ratio {
            ensure!(
                (0.0..=1.0).contains(&r),
                "schedule.warmup_ratio must be in [0, 1], got {r}"
            );
        }
        if let Some(swa) = &self.swa {
            ensure!(
                swa.start_epoch.is_some() != swa.start_step.is_some(),
                "swa: give exactly one of start_epoch or start_step"
            );
            if let Some(e) = swa.start_epoch {
                ensure!(
                    e >= 1 && e <= t.epochs,
                    "swa.start_epoch must be between 1 and train.epochs ({}), got {e}",
                    t.epochs
                );
            }
            ensure!(swa.lr > 0.0, "swa.lr must be positive, got {}", swa.lr);
        }
        Ok(())
    }

    fn validate_folds(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        let f = &self.folds;
        if self.data.valid.is_none() {
            ensure!(
                f.k >= 2,
                "folds.k must be at least 2 (or give data.valid), got {}",
                f.k
            );
            if let FoldSelection::Some(list) = &f.run {
                ensure!(
                    !list.is_empty(),
                    "folds.run must be \"all\" or a non-empty list of fold indices"
                );
                for &i in list {
                    ensure!(
                        i < f.k,
                        "folds.run: fold {i} does not exist (folds are 0..{})",
                        f.k - 1
                    );
                }
            }
            ensure!(
                f.strategy != FoldStrategy::Group || self.data.group.is_some(),
                "folds.strategy 'group' needs data.group (the column to group by)"
            );
        }
        Ok(())
    }

    fn validate_model_settings(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        ensure!(
            self.data.max_length >= 2,
            "data.max_length must be at least 2"
        );
        if let Some(p) = self.encoder_dropout {
            ensure!(
                (0.0..1.0).contains(&p),
                "encoder_dropout must be in [0, 1), got {p}"
            );
        }
        if let Some(p) = self.head.dropout {
            ensure!(
                (0.0..1.0).contains(&p),
                "head.dropout must be in [0, 1), got {p}"
            );
        }
        Ok(())
    }

    fn validate_task_fit(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        let metric = self.metric();
        ensure!(
            metric.for_task() == self.task,
            "eval.metric '{}' does not fit task '{}'",
            metric.name(),
            task_name(self.task)
        );
        let loss_ok = match self.loss() {
            Loss::CrossEntropy => self.task == Task::Classification,
            _ => self.task == Task::Regression,
        };
        ensure!(loss_ok, "train.loss does not fit task '{}' (regression: mse, rmse, huber; classification: cross_entropy)", task_name(self.task));
        if let Some(e) = self.eval.every_steps {
            ensure!(e >= 1, "eval.every_steps must be at least 1 (or null)");
        }
        Ok(())
    }
}

pub fn task_name(t: Task) -> &'static str {
    match t {
        Task::Regression => "regression",
        Task::Classification => "classification",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        r#"{"model": "m", "data": {"train": "t.csv", "text": "excerpt", "label": "target"}}"#;

    fn error_of(json: &str) -> String {
        ExperimentConfig::from_json(json).unwrap_err().to_string()
    }

    #[test]
    fn every_field_has_a_default() {
        let c = ExperimentConfig::from_json(MINIMAL).unwrap();
        assert_eq!(c.folds.k, 5);
        assert_eq!(c.train.batch_size, 8);
        assert_eq!(c.metric(), Metric::Rmse);
        assert_eq!(c.loss(), Loss::Mse);
        assert!(c.llrd.is_none() && c.swa.is_none());
    }

    #[test]
    fn normalized_names_the_task_defaults() {
        let c = ExperimentConfig::defaults(Task::Classification);
        assert_eq!(c.eval.metric, Some(Metric::Accuracy));
        assert_eq!(c.train.loss, Some(Loss::CrossEntropy));
        assert_eq!(c.head.pooling, Pooling::Cls);
        let c = ExperimentConfig::from_json(MINIMAL).unwrap().normalized();
        assert_eq!(
            (c.eval.metric, c.train.loss),
            (Some(Metric::Rmse), Some(Loss::Mse))
        );
    }

    #[test]
    fn unknown_keys_are_named_with_the_allowed_ones() {
        let e = error_of(
            r#"{"model": "m", "data": {"train": "t", "text": "x", "label": "y"}, "train": {"epoch": 3}}"#,
        );
        assert!(
            e.starts_with("train.epoch: unknown field `epoch`, expected one of `epochs`"),
            "{e}"
        );
        assert!(!e.contains("line 1"), "{e}");
        assert!(e.contains("`epochs`"), "{e}");
    }

    #[test]
    fn bad_enum_values_list_the_choices() {
        let e = error_of(
            r#"{"model": "m", "data": {"train": "t", "text": "x", "label": "y"}, "schedule": {"name": "lineer"}}"#,
        );
        assert!(
            e.starts_with("schedule.name: unknown variant `lineer`"),
            "{e}"
        );
        assert!(e.contains("`cosine`"), "{e}");
    }

    #[test]
    fn llrd_modes_parse_and_layer_sets_accept_ranges() {
        let c = ExperimentConfig::from_json(
            r#"{"model": "m", "data": {"train": "t", "text": "x", "label": "y"},
                "llrd": {"mode": "grouped", "head_lr": 3.6e-6, "groups": [{"layers": "0-3", "lr": 1e-6}, {"layers": [4, 5], "lr": 2e-6}]}}"#,
        )
        .unwrap();
        let Some(Llrd::Grouped { groups, .. }) = c.llrd else {
            panic!("grouped")
        };
        assert_eq!(groups[0].layers.indices().unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(groups[1].layers.indices().unwrap(), vec![4, 5]);
        let e = error_of(
            r#"{"model": "m", "data": {"train": "t", "text": "x", "label": "y"}, "llrd": {"mode": "layerwise", "top_lr": 1e-5, "decay": 1.5, "head_lr": 1e-5}}"#,
        );
        assert!(e.contains("llrd.decay must be in (0, 1]"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let base = |extra: &str| {
            format!(
                r#"{{"model": "m", "data": {{"train": "t", "text": "x", "label": "y"}}, {extra}}}"#
            )
        };
        assert!(error_of(&base(r#""swa": {"start_epoch": 9, "lr": 1e-6}"#))
            .contains("swa.start_epoch must be between 1 and train.epochs"));
        assert!(error_of(&base(r#""folds": {"k": 1}"#)).contains("folds.k must be at least 2"));
        assert!(error_of(&base(r#""eval": {"metric": "accuracy"}"#))
            .contains("does not fit task 'regression'"));
        assert!(error_of(&base(
            r#""schedule": {"warmup_steps": 3, "warmup_ratio": 0.1}"#
        ))
        .contains("not both"));
        assert!(error_of(&base(
            r#""optimizer": {"bias_correction": false, "implementation": "fused"}"#
        ))
        .contains("optimizer.implementation fused always corrects bias"));
    }

    #[test]
    fn adamw_kernels_default_to_fused_unless_bias_correction_is_off() {
        use crate::optim::{AdamWConfig, AdamWKernels};
        let kernels = |optimizer: &str| {
            let c = ExperimentConfig::from_json(&format!(
                r#"{{"model": "m", "data": {{"train": "t", "text": "x", "label": "y"}}, "optimizer": {optimizer}}}"#
            ))
            .unwrap();
            AdamWConfig::from_config(&c.optimizer).kernels
        };
        assert_eq!(kernels("{}"), AdamWKernels::Fused);
        assert_eq!(
            kernels(r#"{"bias_correction": false}"#),
            AdamWKernels::Foreach
        );
        assert_eq!(
            kernels(r#"{"implementation": "foreach"}"#),
            AdamWKernels::Foreach
        );
    }
}
