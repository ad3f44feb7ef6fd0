//! `WeightAverage`: torch's AveragedModel (equal average) over a `SequenceModel`'s weights.

use napi::Result;
use napi_derive::napi;

use ftune_engine::swa::{copy_into, AveragedModel};

use crate::model::SequenceModel;

#[napi]
pub struct WeightAverage {
    inner: AveragedModel,
}

#[napi]
impl WeightAverage {
    /// Starts the average as a copy of the model's current weights.
    #[napi(constructor)]
    pub fn new(model: &SequenceModel) -> Self {
        Self {
            inner: AveragedModel::new(&model.parameters()),
        }
    }

    /// `update_parameters`: folds the model's current weights into the equal average.
    #[napi]
    pub fn update(&mut self, model: &SequenceModel) {
        self.inner.update(&model.parameters());
    }

    #[napi(getter)]
    pub fn n_averaged(&self) -> i64 {
        self.inner.n_averaged
    }

    /// Writes the average into the model's weights (e.g. before saving).
    #[napi]
    pub fn apply_to(&self, model: &SequenceModel) -> Result<()> {
        copy_into(&model.parameters(), self.inner.tensors());
        Ok(())
    }
}
