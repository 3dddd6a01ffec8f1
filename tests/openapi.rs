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
/// Imports `vendor`'s spec into a scratch folder of the test's own (`test`): tests run in
/// parallel, and two that import the same vendor must not write the same file.
fn import(test: &str, vendor: &str, extra: &[&str]) -> (PathBuf, String, String) {
    let spec = root().join(format!("tests/data/openapi/{vendor}/spec.json"));
    let dir = std::env::temp_dir().join(format!("flowc-openapi-{}-{test}-{vendor}", std::process::id()));
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
    let (file, text, summary) = import("excerpt", name, &[]);
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
    let (file, text, _) = import("paths", "slack", &["--paths", "/conversations.*"]);
    assert_checks_and_is_formatted(&file);
    assert!(text.contains("endpoint conversations_list"), "{text}");
    assert!(!text.contains("endpoint users_list"), "{text}");
    let (file, text, _) = import("tag", "github", &["--tag", "apps"]);
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

// `flowc check --spec`: the imported file against its own spec has no drift (every excerpt,
// JSON, Swagger 2 and YAML), and the cases of tests/data/spec give exactly their diagnostics.

/// Runs `flowc check` in the repository's root (so paths in the output are the repository's).
fn check_with_spec(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(FLOWC).current_dir(root()).arg("check").args(args).output().expect("flowc check");
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The import of a spec, checked against that spec: no diagnostic but the unused-declaration
/// warnings an imported file always has, even with `--spec-required`; every endpoint matched.
fn round_trip(spec: &str, name: &str) {
    let dir = std::env::temp_dir().join(format!("flowc-spec-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let out = dir.join(format!("{name}.flow"));
    let o = Command::new(FLOWC)
        .current_dir(root())
        .args(["import", "openapi", spec, "-o"])
        .arg(&out)
        .output()
        .expect("flowc import");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let flow = out.display().to_string();
    let (code, stdout, stderr) = check_with_spec(&[&flow, "--spec", spec, "--spec-required", "--format", "json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let output: Vec<serde_json::Value> = serde_json::from_str(&stdout).expect("json diagnostics");
    let (events, diagnostics): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) =
        output.iter().partition(|d| d.get("event").is_some());
    let drift: Vec<&&serde_json::Value> = diagnostics.iter().filter(|d| d["code"] != "W0001").collect();
    assert!(drift.is_empty(), "{drift:#?}");
    let (code, _, stderr) = check_with_spec(&[&flow, "--spec", spec, "--spec-required"]);
    assert_eq!(code, Some(0), "{stderr}");
    let text = std::fs::read_to_string(&out).expect("imported");
    let endpoints = text.lines().filter(|l| l.starts_with("endpoint ")).count();
    let types = text.lines().filter(|l| l.starts_with("type ")).count();
    // The JSON output's last element says what was compared, as the text's last line does.
    assert_eq!(events.len(), 1, "{stdout}");
    assert_eq!(output.last(), Some(events[0]), "{stdout}");
    assert_eq!(events[0]["event"], "spec_compared");
    assert_eq!(events[0]["file"], flow.as_str());
    assert_eq!(events[0]["spec"], spec);
    assert_eq!(events[0]["endpoints"], endpoints);
    assert_eq!(events[0]["types"], types);
    let line = format!("compared with {spec}: {endpoints} endpoint");
    assert!(stderr.contains(&line), "{line}\n{stderr}");
    assert!(stderr.contains(&format!(", {types} type")), "{types} types\n{stderr}");
}

#[test]
fn github_import_checks_against_its_spec_without_drift() {
    round_trip("tests/data/openapi/github/spec.json", "github");
}

#[test]
fn stripe_import_checks_against_its_spec_without_drift() {
    round_trip("tests/data/openapi/stripe/spec.json", "stripe");
}

#[test]
fn slack_import_checks_against_its_spec_without_drift() {
    round_trip("tests/data/openapi/slack/spec.json", "slack");
}

#[test]
fn yaml_import_checks_against_its_spec_without_drift() {
    round_trip("tests/data/spec/pets.yaml", "pets");
    round_trip("tests/data/spec/unions.yaml", "unions");
}

/// `a/b/../c` → `a/c`.
fn normal(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            c => parts.push(c.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}

/// One case of tests/data/spec: `NAME.flow`, whose header says what to check it against:
/// `// spec: [API=]PATH` (relative to tests/data/spec), `// args: …` more arguments, and
/// `// remove: POINTER` / `// set: POINTER JSON` edits to the spec before it is compared. The
/// snapshot `spec__NAME` is the exit code and what `flowc check` wrote to stderr.
fn drift_case(name: &str) {
    let rel = format!("tests/data/spec/{name}.flow");
    let text = std::fs::read_to_string(root().join(&rel)).expect("case");
    let header = |key: &str| -> Vec<String> {
        text.lines()
            .take_while(|l| l.starts_with("//"))
            .filter_map(|l| l.strip_prefix(&format!("// {key}: ")).map(str::to_string))
            .collect()
    };
    let spec = header("spec").pop().expect("a `// spec:` line");
    let (api, spec) = match spec.split_once('=') {
        Some((api, path)) => (Some(api.to_string()), path.to_string()),
        None => (None, spec),
    };
    let spec_rel = normal(&Path::new("tests/data/spec").join(&spec));
    let (removes, sets) = (header("remove"), header("set"));
    let mut shown_spec = spec_rel.clone();
    let mut spec_arg = spec_rel.clone();
    if !removes.is_empty() || !sets.is_empty() {
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root().join(&spec_rel)).expect("spec")).expect("json spec");
        for pointer in &removes {
            let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
            let removed = doc.pointer_mut(parent).and_then(|p| p.as_object_mut()).and_then(|m| m.remove(key));
            assert!(removed.is_some(), "{name}: nothing at {pointer}");
        }
        for set in &sets {
            let (pointer, value) = set.split_once(' ').expect("`set: POINTER JSON`");
            let slot = doc.pointer_mut(pointer).unwrap_or_else(|| panic!("{name}: nothing at {pointer}"));
            *slot = serde_json::from_str(value).expect("the value is JSON");
        }
        let dir = std::env::temp_dir().join(format!("flowc-spec-case-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let changed = dir.join("spec.json");
        std::fs::write(&changed, serde_json::to_string_pretty(&doc).expect("json")).expect("write spec");
        spec_arg = changed.display().to_string();
        shown_spec = format!("{spec_rel} (changed as the case's header says)");
    }
    let spec_flag = match &api {
        Some(api) => format!("{api}={spec_arg}"),
        None => spec_arg.clone(),
    };
    let extra = header("args");
    let mut args: Vec<&str> = vec![&rel, "--spec", &spec_flag];
    args.extend(extra.iter().flat_map(|a| a.split_whitespace()));
    let (code, _, stderr) = check_with_spec(&args);
    let stderr = stderr.replace(&spec_arg, &shown_spec);
    snapshot_named(&format!("spec__{name}"), format!("exit: {code:?}\n{stderr}"));
}

fn snapshot_named(name: &str, text: String) {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s.bind(|| insta::assert_snapshot!(name.to_string(), text));
}

const DRIFT_CASES: [&str; 21] = [
    "derived",
    "derived_chain",
    "two_specs",
    "params",
    "plain_strings",
    "unions",
    "slack_linked",
    "bad_broken_ref",
    "bad_not_json",
    "bad_not_openapi",
    "bad_not_utf8",
    "bad_not_yaml",
    "github_drifted",
    "pets",
    "pets_clean",
    "slack_drifted",
    "stripe_drifted",
    "stripe_spec_changed",
    "two_apis",
    "two_apis_named",
    "slack_sparse",
];

#[test]
fn every_spec_case_is_run() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("tests/data/spec"))
        .expect("tests/data/spec")
        .filter_map(|e| {
            let p = e.expect("entry").path();
            (p.extension().is_some_and(|x| x == "flow"))
                .then(|| p.file_stem().expect("stem").to_string_lossy().into_owned())
        })
        .collect();
    files.sort();
    let mut cases: Vec<String> = DRIFT_CASES.iter().map(|s| s.to_string()).collect();
    cases.sort();
    assert_eq!(files, cases);
}

macro_rules! drift_cases {
    ($($name:ident),* $(,)?) => {
        $(#[test]
        fn $name() {
            drift_case(stringify!($name));
        })*
    };
}

mod spec_cases {
    use super::drift_case;
    drift_cases!(
        bad_broken_ref,
        bad_not_json,
        bad_not_openapi,
        bad_not_utf8,
        bad_not_yaml,
        github_drifted,
        pets,
        params,
        pets_clean,
        plain_strings,
        slack_drifted,
        stripe_drifted,
        stripe_spec_changed,
        two_apis,
        two_apis_named,
        two_specs,
        slack_sparse,
        slack_linked,
        unions,
        derived,
        derived_chain,
    );
}

#[test]
fn spec_drift_is_in_check_s_json_and_a_missing_spec_is_bad_input() {
    let (code, stdout, _) = check_with_spec(&[
        "tests/data/spec/github_drifted.flow",
        "--spec",
        "tests/data/openapi/github/spec.json",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(1));
    let diagnostics: Vec<serde_json::Value> = serde_json::from_str(&stdout).expect("json");
    let e0612: Vec<&serde_json::Value> = diagnostics.iter().filter(|d| d["code"] == "E0612").collect();
    assert_eq!(e0612.len(), 2, "{stdout}");
    assert_eq!(e0612[0]["labels"][0]["start"]["line"], 21, "{stdout}");
    assert_eq!(e0612[0]["severity"], "error");
    let (code, _, stderr) =
        check_with_spec(&["tests/data/spec/pets.flow", "--spec", "tests/data/spec/no_such_spec.yaml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot read tests/data/spec/no_such_spec.yaml"), "{stderr}");
    // --spec-required means nothing without a spec: bad usage.
    let (code, _, _) = check_with_spec(&["tests/data/spec/pets.flow", "--spec-required"]);
    assert_eq!(code, Some(2));
}
