//! `flowc import openapi` on trimmed excerpts of vendors' own specs (tests/data/openapi/<vendor>,
//! each with its SOURCE): the imported file is a snapshot, and it passes `flowc check` and
//! `flowc fmt --check` as written.

use std::path::{Path, PathBuf};
use std::process::Command;

const FLOWC: &str = env!("CARGO_BIN_EXE_flowc");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn snapshot(name: &str, text: String) {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s.bind(|| insta::assert_snapshot!(format!("openapi__{name}"), text));
}

/// Imports a vendor's excerpt to a scratch file; returns the file and the summary (stderr).
fn import(vendor: &str, extra: &[&str]) -> (PathBuf, String, String) {
    let spec = root().join(format!("tests/data/openapi/{vendor}/spec.json"));
    let dir = std::env::temp_dir().join(format!("flowc-openapi-{}-{vendor}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let out = dir.join(format!("{vendor}.flow"));
    let o = Command::new(FLOWC)
        .args(["import", "openapi"])
        .arg(&spec)
        .args(extra)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("flowc runs");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    let text = std::fs::read_to_string(&out).expect("output");
    (out, text, stderr.replace(&spec.display().to_string(), &format!("{vendor}/spec.json")))
}

fn assert_checks_and_is_formatted(file: &Path) {
    let check = Command::new(FLOWC).arg("check").arg(file).output().expect("flowc check");
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{stderr}");
    assert!(stderr.contains("0 errors"), "{stderr}");
    let fmt = Command::new(FLOWC).args(["fmt", "--check"]).arg(file).output().expect("flowc fmt");
    assert!(fmt.status.success(), "{}", String::from_utf8_lossy(&fmt.stdout));
}

fn vendor(name: &str) {
    let (file, text, summary) = import(name, &[]);
    assert_checks_and_is_formatted(&file);
    snapshot(name, text);
    snapshot(&format!("{name}_summary"), summary);
}

#[test]
fn github_excerpt_imports_checks_and_is_formatted() {
    vendor("github");
}

#[test]
fn stripe_excerpt_imports_checks_and_is_formatted() {
    vendor("stripe");
}

#[test]
fn slack_excerpt_imports_checks_and_is_formatted() {
    vendor("slack");
}

#[test]
fn paths_and_tag_select_operations() {
    let (file, text, _) = import("slack", &["--paths", "/conversations.*"]);
    assert_checks_and_is_formatted(&file);
    assert!(text.contains("endpoint conversations_list"), "{text}");
    assert!(!text.contains("endpoint users_list"), "{text}");
    let (file, text, _) = import("github", &["--tag", "apps"]);
    assert_checks_and_is_formatted(&file);
    assert!(text.contains("endpoint apps_list_installations"), "{text}");
    assert!(!text.contains("endpoint code_scanning"), "{text}");
}

#[test]
fn a_file_that_is_no_spec_is_bad_input() {
    let dir = std::env::temp_dir().join(format!("flowc-openapi-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "just: [text").expect("write");
    let o = Command::new(FLOWC).args(["import", "openapi"]).arg(&bad).output().expect("flowc runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not YAML"), "{}", String::from_utf8_lossy(&o.stderr));
}
