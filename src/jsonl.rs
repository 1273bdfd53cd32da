//! JSON-lines files: the fixtures' and the evaluation data sets' format.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct JsonlError {
    pub path: PathBuf,
    pub message: String,
}

/// Every non-empty line of `path` as a `T`; an error names the file and the line.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, JsonlError> {
    let fail = |message: String| JsonlError {
        path: path.to_owned(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| fail(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| fail(format!("line {}: {e}", n + 1)))?);
    }
    Ok(out)
}
