//! Helpers shared by the test files in tests/.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use flow_diagnostics::{Color, Diagnostic};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The `.flow` files of a folder below the root, sorted.
pub fn flow_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    files.sort();
    files
}

/// Parses and checks a source; the rendered diagnostics (no colour) and the diagnostics.
pub fn check(name: &str, source: &str) -> (String, Vec<Diagnostic>) {
    let checked = flow_check::check_source(source);
    let rendered = flow_diagnostics::render_diagnostics(name, source, &checked.diagnostics, Color::Never);
    (rendered, checked.diagnostics)
}

/// The file name relative to the root, with forward slashes, for stable snapshots.
pub fn display(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

pub fn stem(path: &Path) -> String {
    path.file_stem().expect("file stem").to_string_lossy().into_owned()
}
pub mod run_cases;
