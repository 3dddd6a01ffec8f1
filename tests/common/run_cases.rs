//! The run-level cases of tests/data/run: a `NAME.toml` beside `NAME.flow` holds the cases run
//! against that flow, each a fake API setup, the command's arguments and what the run must
//! show. tests/run.rs runs them (one test per case, `run/NAME/CASE`); tests/docs.rs reads
//! what they assert (a code inside an expected `stderr` text is asserted by the runner).
//!
//! ```toml
//! # flow = "examples/orders_to_crm.flow"   (without it: NAME.flow beside this file)
//! [case.html_instead_of_json]
//! faults = { html_instead_of_json = true }   # flow_fakeapi::Faults, by field name
//! base_urls = ["shop", "crm"]                # --base-url shop=FAKE/shop crm=FAKE/crm
//! exit = 1
//! stderr_contains = ["error[R0003]"]
//! snapshot = "html_instead_of_json"          # tests/snapshots/e2e__html_instead_of_json.snap
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A sidecar file: the flow it runs (when not `NAME.flow` beside it) and its cases by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Sidecar {
    pub flow: Option<String>,
    pub case: BTreeMap<String, Case>,
}

/// One run of `flowc run FLOW` against a fresh fake API, and what it must show. Every field
/// but `exit` is optional; an expectation that is left out is not checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Case {
    /// The fake's number of orders (`Config::orders`; 250 when left out).
    pub orders: Option<u64>,
    /// The fake serves HTTPS with a self-signed certificate (`FakeApi::start_tls`).
    #[serde(default)]
    pub tls: bool,
    /// The faults switched on: `flow_fakeapi::Faults`'s fields (a name it lacks is refused).
    #[serde(default)]
    pub faults: toml::Table,
    /// `--base-url` overrides: `api` (the fake's `/api`), `api=prefix` (the fake's `/prefix`), or
    /// `api=http://…` (that URL).
    #[serde(default)]
    pub base_urls: Vec<String>,
    /// The secrets in the environment; the demo secrets the fake accepts when left out.
    pub secrets: Option<BTreeMap<String, String>>,
    /// More arguments after `run FLOW --base-url …` (`--flow NAME`, `--format json`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Runs a copy of the flow in a fresh folder, where its dead letter file is written.
    #[serde(default)]
    pub scratch: bool,
    /// The exit code.
    pub exit: i32,
    /// Texts stderr contains.
    #[serde(default)]
    pub stderr_contains: Vec<String>,
    /// Texts stderr does not contain (and stdout neither).
    #[serde(default)]
    pub output_lacks: Vec<String>,
    /// Texts stderr contains exactly this many times.
    #[serde(default)]
    pub stderr_counts: BTreeMap<String, usize>,
    /// The golden output (exit code, stdout, stderr; ports and timings normalized) is the
    /// snapshot `e2e__NAME`.
    pub snapshot: Option<String>,
    /// The summary line of a flow (every summary line reconciles, whether or not it is named).
    pub summary: Option<Summary>,
    /// What the fake received on a write route.
    #[serde(default)]
    pub received: Vec<Received>,
    /// Requests the fake answered on each route.
    #[serde(default)]
    pub hits: BTreeMap<String, u32>,
    /// Requests to the OAuth2 token endpoint.
    pub token_requests: Option<u32>,
    /// The refresh tokens used, in order.
    pub refresh_tokens_used: Option<Vec<String>>,
    /// Writes the fake stored (each once).
    pub writes_applied: Option<u64>,
    /// The run's retries, from its JSON events (`--format json`): wait in ms and reason.
    pub retry_events: Option<Vec<(u64, String)>>,
    /// The dead letter file (a scratch run's): its number of lines, or that it is absent.
    pub dead_letters: Option<DeadLetters>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Summary {
    pub flow: String,
    /// Counts the summary line shows exactly: `read`, `delivered`, `filtered`, `failed`,
    /// `dead_lettered`, `not_processed`, `pages`, `requests`, `retries`.
    #[serde(default)]
    pub exact: BTreeMap<String, u64>,
    /// Counts it shows at least.
    #[serde(default)]
    pub at_least: BTreeMap<String, u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Received {
    /// The fake's collection: `contacts`, `messages`, `members`.
    pub route: String,
    /// Only the records with these field values.
    #[serde(default, rename = "where")]
    pub filter: toml::Table,
    /// How many.
    pub count: Option<usize>,
    /// A field whose values are all there and all different.
    pub distinct: Option<String>,
    /// A field whose values are exactly `prefix` and the numbers `from..=to` (written with at
    /// least `width` digits), each once.
    pub ids: Option<Ids>,
    /// Field values every record has.
    #[serde(default)]
    pub each: toml::Table,
    /// Text fields every record ends with.
    #[serde(default)]
    pub each_ends_with: BTreeMap<String, String>,
    /// Records (their fields) that are among the received.
    #[serde(default)]
    pub includes: Vec<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ids {
    pub field: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub width: usize,
    pub from: u64,
    pub to: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeadLetters {
    pub file: String,
    pub count: Option<usize>,
    #[serde(default)]
    pub absent: bool,
}

impl Case {
    /// The texts the runner asserts stderr contains: what counts as asserted by this case.
    pub(crate) fn asserted_texts(&self) -> impl Iterator<Item = &str> {
        let counted = self.stderr_counts.iter().filter(|(_, n)| **n > 0).map(|(text, _)| text.as_str());
        self.stderr_contains.iter().map(String::as_str).chain(counted)
    }
}

/// A sidecar, read and checked, with the flow file it runs (relative to the root).
pub(crate) struct CaseFile {
    pub path: PathBuf,
    pub flow: String,
    pub sidecar: Sidecar,
}

/// Every sidecar of tests/data/run, sorted.
pub(crate) fn case_files() -> Vec<CaseFile> {
    let dir = super::root().join("tests/data/run");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/run")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths.into_iter().map(|path| read_case_file(&path)).collect()
}

fn read_case_file(path: &Path) -> CaseFile {
    let name = super::display(path);
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let sidecar: Sidecar = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let flow = sidecar.flow.clone().unwrap_or_else(|| super::display(&path.with_extension("flow")));
    assert!(super::root().join(&flow).is_file(), "{name}: no flow file {flow}");
    CaseFile { path: path.to_path_buf(), flow, sidecar }
}
