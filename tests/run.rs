//! Run-level cases as data: each `tests/data/run/NAME.toml` holds cases of `flowc run` on a
//! flow against a fresh fake API on 127.0.0.1 (its setup, the arguments, and what the run must
//! show; the fields are `common::run_cases::Case`'s). One test per case, `run/NAME/CASE`:
//! `cargo test --test run -- run/fail_fast/html_instead_of_json`. Every summary line of every
//! run must reconcile (read = delivered + filtered out + failed + not processed). What needs
//! programmatic control (a barrier, a release, chaos counts, several runs against one fake)
//! stays in tests/e2e.rs.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;

use common::run_cases::{case_files, Case, Received};
use common::{flowc, Output, DEMO_SECRETS};
use flow_fakeapi::{Config, FakeApi, Faults};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn main() {
    let mut trials = Vec::new();
    for file in case_files() {
        let stem = common::stem(&file.path);
        for (name, case) in file.sidecar.case {
            let flow = file.flow.clone();
            let test = format!("run/{stem}/{name}");
            trials.push(Trial::test(test.clone(), move || {
                run_case(&test, &flow, &case);
                Ok::<(), Failed>(())
            }));
        }
    }
    assert!(trials.len() > 30, "the run cases are missing: {}", trials.len());
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

/// The faults of a case: `Faults` read from its table, refusing a name `Faults` does not have
/// (serde's `default` would drop it silently, and the case would test nothing).
fn faults(test: &str, table: &toml::Table) -> Faults {
    let faults: Faults = toml::Value::Table(table.clone()).try_into().unwrap_or_else(|e| panic!("{test}: faults: {e}"));
    let known = serde_json::to_value(&faults).expect("faults serialize");
    for key in table.keys() {
        assert!(known.get(key).is_some(), "{test}: `Faults` has no field `{key}`");
    }
    faults
}

fn run_case(test: &str, flow: &str, case: &Case) {
    let config = Config { orders: case.orders.unwrap_or(Config::default().orders), ..Config::default() };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let api = rt
        .block_on(async {
            if case.tls {
                FakeApi::start_tls(config).await
            } else {
                FakeApi::start(config, 0).await
            }
        })
        .expect("start the fake API");
    api.set_faults(faults(test, &case.faults));

    let scratch = case.scratch.then(|| scratch(test, flow));
    let file = scratch.as_ref().map_or(flow.to_string(), |(_, file)| file.clone());
    let mut args = vec!["run".to_string(), file];
    for o in &case.base_urls {
        let (api_name, target) = o.split_once('=').unwrap_or((o, o));
        let url = if target.starts_with("http") { target.to_string() } else { format!("{}/{target}", api.url()) };
        args.extend(["--base-url".to_string(), format!("{api_name}={url}")]);
    }
    args.extend(case.args.iter().cloned());
    let secrets: Vec<(String, String)> = match &case.secrets {
        Some(s) => s.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        None => DEMO_SECRETS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    let env: Vec<(&str, &str)> = secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = flowc(&args, &env);
    let (stdout, stderr) = (&out.stdout, &out.stderr);

    assert_eq!(out.code, case.exit, "{test}: the exit code\n{stderr}");
    for text in &case.stderr_contains {
        assert!(stderr.contains(text.as_str()), "{test}: stderr lacks {text:?}\n{stderr}");
    }
    for text in &case.output_lacks {
        assert!(!stderr.contains(text.as_str()) && !stdout.contains(text.as_str()), "{test}: {text:?} shows\n{stderr}");
    }
    for (text, n) in &case.stderr_counts {
        assert_eq!(stderr.matches(text.as_str()).count(), *n, "{test}: how often stderr says {text:?}\n{stderr}");
    }
    for line in stderr.lines().filter(|l| l.starts_with("flow ") && l.contains(" — ")) {
        let s = summary_counts(line);
        let accounted = s["delivered"] + s["filtered"] + s["failed"] + s["not_processed"];
        assert_eq!(s["read"], accounted, "{test}: the summary does not reconcile: {line}");
    }
    if let Some(expected) = &case.summary {
        let prefix = format!("flow {}: ", expected.flow);
        let line =
            stderr.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{test}: no {prefix}\n{stderr}"));
        let s = summary_counts(line);
        for (count, n) in &expected.exact {
            let got = s.get(count.as_str()).unwrap_or_else(|| panic!("{test}: no count `{count}`"));
            assert_eq!(got, n, "{test}: {count} in {line}");
        }
        for (count, n) in &expected.at_least {
            let got = s.get(count.as_str()).unwrap_or_else(|| panic!("{test}: no count `{count}`"));
            assert!(got >= n, "{test}: {count} is {got}, at least {n} expected: {line}");
        }
    }
    for r in &case.received {
        received(test, &api, r);
    }
    for (route, n) in &case.hits {
        let route: &'static str = route.clone().leak();
        assert_eq!(api.hits(route), *n, "{test}: requests to `{route}`");
    }
    if let Some(n) = case.token_requests {
        assert_eq!(api.token_requests(), n, "{test}: token requests");
    }
    if let Some(used) = &case.refresh_tokens_used {
        assert_eq!(&api.refresh_tokens_used(), used, "{test}: refresh tokens used");
    }
    if let Some(n) = case.writes_applied {
        assert_eq!(api.writes().applied, n, "{test}: writes stored");
    }
    if let Some(expected) = &case.retry_events {
        assert_eq!(&retry_events(stdout), expected, "{test}: retries");
    }
    if let Some(dead) = &case.dead_letters {
        let (dir, _) = scratch.as_ref().unwrap_or_else(|| panic!("{test}: dead letters need `scratch = true`"));
        let path = dir.join(&dead.file);
        if dead.absent {
            assert!(!path.exists(), "{test}: {} was written", dead.file);
        }
        if let Some(n) = dead.count {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{test}: {}: {e}", dead.file));
            assert_eq!(text.lines().count(), n, "{test}: dead letters in {}", dead.file);
        }
    }
    if let Some(name) = &case.snapshot {
        let mut s = insta::Settings::clone_current();
        s.set_prepend_module_to_snapshot(false);
        s.set_omit_expression(true);
        s.bind(|| insta::assert_snapshot!(format!("e2e__{name}"), golden(&out, &api)));
    }
    drop(api);
    if let Some((dir, _)) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The records received on a route (those matching `where`) against the expectations.
fn received(test: &str, api: &FakeApi, r: &Received) {
    let all = api.received(&r.route);
    let got: Vec<&Value> = all.iter().filter(|rec| includes(rec, &r.filter)).collect();
    let what = format!("{test}: {} {:?}", r.route, r.filter);
    if let Some(n) = r.count {
        assert_eq!(got.len(), n, "{what}: how many");
    }
    if let Some(field) = &r.distinct {
        let values: HashSet<String> = got
            .iter()
            .map(|rec| rec.get(field).unwrap_or_else(|| panic!("{what}: no `{field}` in {rec}")).to_string())
            .collect();
        assert_eq!(values.len(), got.len(), "{what}: every `{field}` once");
    }
    if let Some(ids) = &r.ids {
        let mut numbers: Vec<u64> = got
            .iter()
            .map(|rec| {
                let text = rec[&ids.field].as_str().unwrap_or_default();
                text.strip_prefix(ids.prefix.as_str())
                    .and_then(|s| s.parse().ok())
                    .filter(|n: &u64| format!("{}{n:0w$}", ids.prefix, w = ids.width) == text)
                    .unwrap_or_else(|| {
                        panic!("{what}: `{}` of {rec} is not {}N ({} digits)", ids.field, ids.prefix, ids.width)
                    })
            })
            .collect();
        numbers.sort_unstable();
        assert!(
            numbers.iter().copied().eq(ids.from..=ids.to),
            "{what}: not each of {}..={} once: {numbers:?}",
            ids.from,
            ids.to
        );
    }
    for rec in &got {
        assert!(includes(rec, &r.each), "{what}: {rec} lacks {:?}", r.each);
        for (field, end) in &r.each_ends_with {
            assert!(
                rec[field].as_str().is_some_and(|t| t.ends_with(end.as_str())),
                "{what}: `{field}` of {rec} does not end with {end:?}"
            );
        }
    }
    for fields in &r.includes {
        assert!(got.iter().any(|rec| includes(rec, fields)), "{what}: none is {fields:?}");
    }
}

/// Whether a JSON record has every field of a TOML table, with equal values.
fn includes(record: &Value, fields: &toml::Table) -> bool {
    fields.iter().all(|(k, v)| {
        let expected = serde_json::to_value(v).expect("a TOML value is JSON");
        record.get(k) == Some(&expected)
    })
}

/// The counts of a summary line (`flow NAME: ok — 5 records read, 5 delivered, … · 1 page, 6
/// requests (…), 2 retries · 0.01s`), zero for those it leaves out.
fn summary_counts(line: &str) -> std::collections::BTreeMap<&'static str, u64> {
    let mut s: std::collections::BTreeMap<&'static str, u64> =
        ["read", "delivered", "filtered", "failed", "dead_lettered", "not_processed", "pages", "requests", "retries"]
            .into_iter()
            .map(|k| (k, 0))
            .collect();
    let line = line.split_once(": ").map_or(line, |(_, rest)| rest);
    for piece in line.split([',', '·', '—', '(', ')', ';']) {
        let piece = piece.trim();
        let Some((n, words)) = piece.split_once(' ') else { continue };
        let Ok(n) = n.parse::<u64>() else { continue };
        let slot = match words {
            "record read" | "records read" => "read",
            "delivered" => "delivered",
            "filtered out" => "filtered",
            "failed" => "failed",
            "to the dead letter file" => "dead_lettered",
            "not processed" => "not_processed",
            "page" | "pages" => "pages",
            "request" | "requests" => "requests",
            "retry" | "retries" => "retries",
            _ => continue,
        };
        s.insert(slot, n);
    }
    s
}

/// The retries a run made, from its JSON events: (wait in ms, reason).
fn retry_events(stdout: &str) -> Vec<(u64, String)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "retry")
        .map(|e| (e["wait_ms"].as_u64().expect("wait_ms"), e["reason"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// Exit code and both streams, the fake's port and timings normalized, for snapshots.
fn golden(out: &Output, api: &FakeApi) -> String {
    let normalize = |s: &str| {
        let s = s.replace(&api.url(), "http://127.0.0.1:PORT");
        s.lines().map(strip_elapsed).collect::<Vec<_>>().join("\n")
    };
    format!("exit code: {}\n--- stdout\n{}\n--- stderr\n{}\n", out.code, normalize(&out.stdout), normalize(&out.stderr))
}

/// `… · 0.01s` at the end of a summary line becomes `… · <elapsed>`.
fn strip_elapsed(line: &str) -> String {
    if let Some((head, tail)) = line.rsplit_once(" · ") {
        if tail.ends_with('s') && tail[..tail.len() - 1].parse::<f64>().is_ok() {
            return format!("{head} · <elapsed>");
        }
    }
    line.to_string()
}

/// A fresh folder for files a run writes (dead letters), with the `.flow` file copied in.
fn scratch(test: &str, flow: &str) -> (PathBuf, String) {
    common::scratch_copy("run", test, flow)
}
