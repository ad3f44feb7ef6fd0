//! `Tokenizer`: a model folder's tokenizer alone, for counting tokens without loading weights.

use std::path::Path;

use napi::Result;
use napi_derive::napi;

use ftune_engine::model::full_length_tokenizer;
use ftune_engine::tokenize::TextTokenizer;

use crate::js_error_chain;

#[napi]
pub struct Tokenizer {
    inner: TextTokenizer,
}

#[napi]
impl Tokenizer {
    /// The folder's tokenizer, truncating only at the model's own input limit.
    #[napi(factory)]
    pub fn for_model(dir: String) -> Result<Self> {
        let inner = full_length_tokenizer(Path::new(&dir)).map_err(js_error_chain)?;
        Ok(Self { inner })
    }

    /// Token ids of each text (or text pair), special tokens included.
    #[napi]
    pub fn tokenize(
        &self,
        texts: Vec<String>,
        pairs: Option<Vec<String>>,
    ) -> Result<Vec<Vec<i64>>> {
        token_ids(&self.inner, &texts, pairs.as_deref())
    }
}

/// Token ids of each text (or pair), as both `Tokenizer` and `SequenceModel` return them.
pub(crate) fn token_ids(
    tokenizer: &TextTokenizer,
    texts: &[String],
    pairs: Option<&[String]>,
) -> Result<Vec<Vec<i64>>> {
    let enc = tokenizer.encode(texts, pairs).map_err(js_error_chain)?;
    Ok(enc.into_iter().map(|e| e.ids).collect())
}
