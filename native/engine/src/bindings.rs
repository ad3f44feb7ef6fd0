//! The TypeScript types of what crosses between the engine and JavaScript — events, fold
//! outcomes, summaries (`app/native/generated/events.ts`), the normalized experiment config
//! (`app/native/generated/config.ts`), the training data a run takes and the plan the engine
//! makes of it (`app/native/generated/run.ts`), the libtorch a process runs on
//! (`app/native/generated/runtime.ts`) — generated from the Rust types by ts-rs, so
//! that the app's types cannot drift from the engine's serde form. The test fails when a committed file
//! differs from what the Rust generates; `FTUNE_WRITE_BINDINGS=1 cargo test bindings` rewrites
//! them.

use ts_rs::{Config, TS};

use crate::config::*;
use crate::experiment::{Summary, TrainingData};
use crate::heads::Pooling;
use crate::plan::{FoldPlan, RunPlan};
use crate::runtime::RuntimeInfo;
use crate::train::{BestSource, CheckpointName, ComputePrecision, Event, FoldOutcome, TimedEvent};

const EVENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../app/native/generated/events.ts"
);
const CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../app/native/generated/config.ts"
);
const RUN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../app/native/generated/run.ts"
);
const RUNTIME: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../app/native/generated/runtime.ts"
);
const HEADER: &str = "// Generated from native/engine/src by ts-rs (native/engine/src/bindings.rs): do not edit.\n// `FTUNE_WRITE_BINDINGS=1 node scripts/test.mjs rust` rewrites it after a change to the Rust types.\n\n";

/// `export type …` with the type's docs, one event kind per line, no trailing spaces.
fn export<T: TS>(decl: String) -> String {
    let decl = decl
        .replace(" | { \"kind\"", "\n  | { \"kind\"")
        .replace(" = { \"kind\"", " =\n  | { \"kind\"");
    let text = format!("{}export {decl}\n", T::docs().unwrap_or_default());
    text.lines()
        .map(|l| l.trim_end().to_string() + "\n")
        .collect()
}

fn events() -> String {
    let cfg = Config::new();
    // ts-rs writes a flattened enum out in full: name it instead of repeating the union.
    let timed = TimedEvent::decl(&cfg);
    let union = format!("({})", Event::inline(&cfg));
    assert!(
        timed.contains(&union),
        "TimedEvent no longer inlines TrainEvent: {timed}"
    );
    let declarations = [
        export::<Event>(Event::decl(&cfg)),
        export::<TimedEvent>(timed.replace(&union, &Event::name(&cfg))),
        export::<CheckpointName>(CheckpointName::decl(&cfg)),
        export::<Summary>(Summary::decl(&cfg)),
        export::<FoldOutcome>(FoldOutcome::decl(&cfg)),
        export::<BestSource>(BestSource::decl(&cfg)),
        export::<ComputePrecision>(ComputePrecision::decl(&cfg)),
    ];
    format!("{HEADER}{}", declarations.join("\n"))
}

/// A generated file: the header, then each type's declaration, in order.
macro_rules! declarations {
    ($($t:ty),* $(,)?) => {{
        let cfg = Config::new();
        let decls = [$(export::<$t>(<$t>::decl(&cfg))),*];
        format!("{HEADER}{}", decls.join("\n"))
    }};
}

/// The experiment config as the engine normalizes it (every default filled in).
fn config() -> String {
    declarations!(
        ExperimentConfig,
        Task,
        DataConfig,
        FoldsConfig,
        FoldStrategy,
        FoldSelection,
        AllFolds,
        HeadConfig,
        Pooling,
        TrainConfig,
        Precision,
        Loss,
        OptimizerConfig,
        AdamWImplementation,
        Llrd,
        LayerSet,
        LayerSpec,
        ScheduleConfig,
        ScheduleName,
        ReinitConfig,
        SwaConfig,
        AnnealStrategy,
        SwaEvaluate,
        EvalConfig,
        Metric,
    )
}

/// What a run takes (its rows) and what the engine plans of it before training.
fn run() -> String {
    declarations!(TrainingData, RunPlan, FoldPlan)
}

/// The libtorch a process loaded, its devices and threads.
fn runtime() -> String {
    declarations!(RuntimeInfo)
}

#[test]
fn the_committed_typescript_bindings_match_the_rust_types() {
    for (file, generated) in [
        (EVENTS, events()),
        (CONFIG, config()),
        (RUN, run()),
        (RUNTIME, runtime()),
    ] {
        if std::env::var_os("FTUNE_WRITE_BINDINGS").is_some() {
            std::fs::create_dir_all(std::path::Path::new(file).parent().unwrap()).unwrap();
            std::fs::write(file, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(file).unwrap_or_default();
        assert!(
            committed == generated,
            "{file} is out of date with the Rust types: run `FTUNE_WRITE_BINDINGS=1 node scripts/test.mjs rust` and commit it"
        );
    }
}
