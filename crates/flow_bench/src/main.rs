//! `flow-bench map`: generates N nested customer/order records as NDJSON (about 580 bytes each),
//! maps them with the 15-field map in tests/data/ok/bench_customer_map.flow, and times four
//! programs on the same file, each in a child process pinned to one core:
//!
//! - flowc's map engine (the code behind `flowc map`),
//! - the strongest hand-written program: `#[derive(Deserialize)]` structs that borrow their
//!   strings from the line (`Cow<str>` where an escape may occur) and declare only the fields
//!   the map reads, money read and summed as exact Decimals, the lines and the computed texts in
//!   buffers reused from line to line, the output row a `#[derive(Serialize)]` struct of
//!   borrowed text serialized into a reused buffer and written with one call,
//! - the straightforward hand-written program: a whole `serde_json::Value` per line, an output
//!   `Value` built and serialized,
//! - jq with the equivalent program.
//!
//! It checks that the outputs agree record by record (the same number of lines, the same keys,
//! the same values; numbers by their exact text, except jq's, which computes in doubles), and
//! prints the times, the ratios and each one's peak memory.
//! Run with `cargo run --release -p flow_bench -- map [--records N] [--runs N]`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod lsp;

use clap::{Parser, Subcommand};
use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

#[derive(Parser)]
#[command(name = "flow-bench", about = "Benchmarks of flowc")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Time the map engine against jq and two hand-written serde programs (typed and borrowed, and
    /// a whole `Value` per record).
    Map {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Where the data and outputs go.
        #[arg(long, default_value = "target/bench")]
        dir: PathBuf,
        /// Runs of flowc and of the hand-written programs, taking turns; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// (internal) Run one engine in this process: `flowc`, `typed` or `value`.
    Engine { which: String, input: PathBuf, output: PathBuf },
    /// Time a pull-map-POST run (cursor pages, a map, POSTs 16 at a time) against the fake API:
    /// flowc's runtime against a hand-written tokio + reqwest program.
    Run {
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// Rounds: in each, the run without state and the run with state back to back (which goes
        /// first alternates), then the hand-written program; medians and per-pair ratios are reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Leave out the hand-written program (more rounds of the state comparison in the same time).
        #[arg(long)]
        no_baseline: bool,
    },
    /// (internal) One pull-map-POST run in this process, with its own fake API: `flowc` or `baseline`.
    RunEngine { which: String, records: u64 },
    /// Time what an editor waits for on a large file: `flowc check` and the language server's
    /// edit → diagnostics round trip.
    Lsp {
        #[arg(long, default_value_t = 2_000)]
        lines: usize,
        /// Also write the generated file here (to time `flowc check` on it).
        #[arg(long)]
        write: Option<std::path::PathBuf>,
    },
    /// Time `flow_syntax::parse` alone on the `lsp` benchmark's file (small enough to run
    /// under callgrind: `--runs 1`).
    Parse {
        #[arg(long, default_value_t = 10_000)]
        lines: usize,
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
}

const FLOW: &str = "tests/data/ok/bench_customer_map.flow";

const JQ: &str = r#"(.order.line_items | map(.qty * .price) | add // 0) as $total
| (.name | split(" ")) as $parts
| { customer_id: .id,
    first_name: ($parts[0] // ""),
    last_name: ($parts[1] // ""),
    email: (.email | ascii_downcase),
    country: (.address.country | ascii_upcase),
    city: .address.city,
    address: (.address.street + ", " + .address.zip + " " + .address.city),
    tags: (.tags | join(",")),
    item_count: (.order.line_items | length),
    order_total: $total,
    active: (.status == "active"),
    phone: (.phone // "unknown"),
    created: .created_at[0:10],
    source: "shop",
    tier: (if $total > 1000 then "gold" elif $total > 100 then "silver" else "bronze" end) }"#;

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Map { records, dir, runs } => match bench(records, &dir, runs.max(1)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("flow-bench: {e}");
                ExitCode::from(1)
            }
        },
        Cmd::Run { records, runs, no_baseline } => match run_bench(records, runs.max(1), !no_baseline) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("flow-bench: {e}");
                ExitCode::from(1)
            }
        },
        Cmd::RunEngine { which, records } => match run_engine(&which, records) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("flow-bench run-engine {which}: {e}");
                ExitCode::from(1)
            }
        },
        Cmd::Parse { lines, runs } => match lsp::parse_only(lines, runs.max(1)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("flow-bench parse: {e}");
                ExitCode::from(1)
            }
        },
        Cmd::Lsp { lines, write } => match lsp::bench(lines, write.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("flow-bench lsp: {e}");
                ExitCode::from(1)
            }
        },
        Cmd::Engine { which, input, output } => match engine(&which, &input, &output) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("flow-bench engine {which}: {e}");
                ExitCode::from(1)
            }
        },
    }
}

type Result<T> = std::result::Result<T, String>;

/// The programs timed against each other, in the order they take turns.
const ENGINES: [(&str, &str); 3] = [
    ("flowc", "flowc map engine"),
    ("typed", "hand-written serde, typed + borrowed"),
    ("value", "hand-written serde_json::Value"),
];

fn bench(records: u64, dir: &Path, runs: usize) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let input = dir.join(format!("customers-{records}.ndjson"));
    if !input.exists() {
        eprintln!("generating {records} records into {} …", input.display());
        generate(records, &input).map_err(|e| e.to_string())?;
    }
    let bytes = std::fs::metadata(&input).map_err(|e| e.to_string())?.len();
    println!(
        "input: {} records, {:.1} MB, {:.0} bytes per record",
        records,
        bytes as f64 / 1e6,
        bytes as f64 / records as f64
    );
    let pin =
        if which("taskset") { vec!["taskset".to_string(), "-c".to_string(), "0".to_string()] } else { Vec::new() };
    if pin.is_empty() {
        println!("note: taskset not found; the engines are single-threaded anyway");
    }
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    // Read the input once so that no program pays for the disk and all read it from the cache.
    std::io::copy(&mut std::fs::File::open(&input).map_err(|e| e.to_string())?, &mut std::io::sink())
        .map_err(|e| e.to_string())?;
    // The programs take turns, so a noisy moment of the machine hits all of them.
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); ENGINES.len()];
    let mut peaks: Vec<Option<u64>> = vec![None; ENGINES.len()];
    for _ in 0..runs {
        for (i, (name, _)) in ENGINES.iter().enumerate() {
            let out = dir.join(format!("out-{name}.ndjson"));
            let mut cmd = pin.clone();
            cmd.extend([
                me.display().to_string(),
                "engine".into(),
                name.to_string(),
                input.display().to_string(),
                out.display().to_string(),
            ]);
            let (secs, peak) = timed(&cmd)?;
            times[i].push(secs);
            peaks[i] = peaks[i].max(peak);
        }
    }
    let mut results = Vec::new();
    for (i, (name, label)) in ENGINES.iter().enumerate() {
        let mut t = times[i].clone();
        t.sort_by(f64::total_cmp);
        let (median, lo, hi) = (t[t.len() / 2], t[0], t[t.len() - 1]);
        if runs > 1 {
            println!("{name}: {runs} runs, {lo:.2}–{hi:.2} s, median {median:.2} s");
        }
        results.push((*label, median, peaks[i], dir.join(format!("out-{name}.ndjson"))));
    }
    let jq_out = dir.join("out-jq.ndjson");
    let jq = if which("jq") {
        let mut cmd = pin.clone();
        cmd.extend([
            "sh".into(),
            "-c".into(),
            format!("jq -c '{}' < '{}' > '{}'", JQ.replace('\'', "'\\''"), input.display(), jq_out.display()),
        ]);
        Some(timed(&cmd)?)
    } else {
        println!("note: jq not found; install it (apt-get install jq) to compare");
        None
    };
    for ((name, _), (label, _, _, out)) in ENGINES[1..].iter().zip(&results[1..]) {
        // The `Value` program holds numbers as doubles, which have no scale (`359.70` is `359.7`
        // to it): its numbers are compared as doubles, the typed program's by their exact text.
        if *name == "value" {
            let n = agree(&results[0].3, out, Numbers::AsDoubles)?;
            println!(
                "{label}: {n} records, the same as flowc's (keys, values; numbers as doubles, which have no scale)"
            );
        } else {
            let n = agree(&results[0].3, out, Numbers::Exact)?;
            println!("{label}: {n} records, the same as flowc's (keys, values, numbers by their exact text)");
        }
    }
    if jq.is_some() {
        let n = agree(&results[0].3, &jq_out, Numbers::AsDoubles)?;
        println!("jq: {n} records, the same as flowc's (order_total compared as a double: jq adds in doubles)");
    }
    println!();
    let flowc = results[0].1;
    let peak_mb = |p: &Option<u64>| p.map_or("?".into(), |p| format!("{:.1}", p as f64 / 1024.0));
    println!("{:<40} {:>9} {:>12} {:>10}", "program", "seconds", "records/s", "peak MB");
    for (label, secs, peak, _) in &results {
        println!("{label:<40} {secs:>9.2} {:>12.0} {:>10}", records as f64 / secs, peak_mb(peak));
    }
    if let Some((secs, peak)) = jq {
        println!("{:<40} {secs:>9.2} {:>12.0} {:>10}", "jq", records as f64 / secs, peak_mb(&peak));
        println!("\nflowc is {:.1}× faster than jq", secs / flowc);
    }
    for (label, secs, _, _) in &results[1..] {
        println!("flowc runs at {:.2}× the speed of the {label} program", secs / flowc);
    }
    Ok(())
}

fn which(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// Runs a command under `/usr/bin/time -v` when available: wall seconds and peak RSS (KiB).
fn timed(cmd: &[String]) -> Result<(f64, Option<u64>)> {
    let m = measured(cmd)?;
    Ok((m.wall, m.peak_kib))
}

/// What one child run cost: wall seconds, and from `/usr/bin/time -v` (when it is there) the
/// child's CPU seconds (user + system, all its threads, from the kernel's rusage) and peak RSS.
#[derive(Debug, Clone, Copy)]
struct Measured {
    wall: f64,
    cpu: Option<f64>,
    peak_kib: Option<u64>,
}

fn measured(cmd: &[String]) -> Result<Measured> {
    let time = Path::new("/usr/bin/time").exists();
    let mut full: Vec<String> = Vec::new();
    if time {
        full.extend(["/usr/bin/time".into(), "-v".into()]);
    }
    full.extend(cmd.iter().cloned());
    let start = Instant::now();
    let out = Command::new(&full[0]).args(&full[1..]).output().map_err(|e| format!("{}: {e}", full[0]))?;
    let wall = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{} failed: {stderr}", cmd.join(" ")));
    }
    let field = |name: &str| stderr.lines().find_map(|l| l.trim().strip_prefix(name).map(str::trim));
    let peak_kib = field("Maximum resident set size (kbytes):").and_then(|v| v.parse().ok());
    let seconds = |name: &str| field(name).and_then(|v| v.parse::<f64>().ok());
    let cpu = match (seconds("User time (seconds):"), seconds("System time (seconds):")) {
        (Some(u), Some(s)) => Some(u + s),
        _ => None,
    };
    Ok(Measured { wall, cpu, peak_kib })
}

/// How [`agree`] compares numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbers {
    /// By their exact text: a Decimal written as `179.8` is not `179.80000000000001`.
    Exact,
    /// As doubles, within a relative 1e-9: for jq, which computes in doubles.
    AsDoubles,
}

/// Whether two NDJSON outputs hold the same records: the same number of lines, and line by line
/// the same keys (in any order) with the same values: strings as decoded text, numbers by their
/// exact text (or as doubles), everything else by value. The number of records compared.
fn agree(a: &Path, b: &Path, numbers: Numbers) -> Result<u64> {
    use std::collections::BTreeMap;
    let open = |p: &Path| std::fs::File::open(p).map(BufReader::new).map_err(|e| format!("{}: {e}", p.display()));
    let (mut ra, mut rb) = (open(a)?, open(b)?);
    let (mut la, mut lb) = (String::new(), String::new());
    let mut n = 0u64;
    loop {
        la.clear();
        lb.clear();
        let (ea, eb) =
            (ra.read_line(&mut la).map_err(|e| e.to_string())?, rb.read_line(&mut lb).map_err(|e| e.to_string())?);
        match (ea, eb) {
            (0, 0) => return Ok(n),
            (0, _) | (_, 0) => {
                return Err(format!(
                    "{} and {} have different numbers of lines ({} has more after line {n})",
                    a.display(),
                    b.display(),
                    if ea == 0 { b.display() } else { a.display() }
                ))
            }
            _ => {}
        }
        n += 1;
        let differ = |why: String| format!("line {n}: {} and {} differ: {why}", a.display(), b.display());
        let va: BTreeMap<&str, &RawValue> = serde_json::from_str(la.trim_end()).map_err(|e| differ(e.to_string()))?;
        let vb: BTreeMap<&str, &RawValue> = serde_json::from_str(lb.trim_end()).map_err(|e| differ(e.to_string()))?;
        if !va.keys().eq(vb.keys()) {
            return Err(differ(format!(
                "keys {:?} vs {:?}",
                va.keys().collect::<Vec<_>>(),
                vb.keys().collect::<Vec<_>>()
            )));
        }
        for (k, x) in &va {
            let (x, y) = (x.get(), vb[k].get());
            let same = match x.as_bytes().first() {
                Some(b'"') => serde_json::from_str::<String>(x).ok() == serde_json::from_str::<String>(y).ok(),
                Some(b'-' | b'0'..=b'9') if numbers == Numbers::AsDoubles => {
                    match (x.parse::<f64>(), y.parse::<f64>()) {
                        (Ok(p), Ok(q)) => (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0),
                        _ => false,
                    }
                }
                Some(b'-' | b'0'..=b'9') => x == y,
                _ => serde_json::from_str::<Value>(x).ok() == serde_json::from_str::<Value>(y).ok(),
            };
            if !same {
                return Err(differ(format!("`{k}`: {x} vs {y}")));
            }
        }
    }
}

fn engine(which: &str, input: &Path, output: &Path) -> Result<()> {
    let reader = BufReader::with_capacity(1 << 16, std::fs::File::open(input).map_err(|e| e.to_string())?);
    let writer = BufWriter::with_capacity(1 << 16, std::fs::File::create(output).map_err(|e| e.to_string())?);
    match which {
        "flowc" => {
            let source =
                std::fs::read_to_string(FLOW).map_err(|e| format!("{FLOW}: {e} (run from the repository root)"))?;
            flowc_engine(&source, reader, writer)
        }
        "typed" => typed(reader, writer).map_err(|e| e.to_string()),
        "value" => by_value(reader, writer).map_err(|e| e.to_string()),
        other => Err(format!("unknown engine {other}")),
    }
}

/// flowc's map engine on the benchmark's map.
fn flowc_engine(source: &str, reader: impl BufRead, writer: impl Write) -> Result<()> {
    let checked = flow_check::check_source(source);
    let model = checked.model.ok_or("the benchmark's .flow file has errors")?;
    let plan = model.into_plan();
    let index = plan.maps.iter().position(|m| m.name == "to_row").ok_or("no map to_row")?;
    let summary = flow_eval::mapper::map_ndjson(&flow_eval::Program::new(plan), index, reader, writer, std::io::sink())
        .map_err(|e| e.to_string())?;
    if summary.rejected > 0 {
        return Err(format!("{} records rejected", summary.rejected));
    }
    Ok(())
}

/// The input the map reads, and nothing else: unread fields are skipped, strings are borrowed
/// from the line unless they hold an escape (`Cow`), money is its exact text.
#[derive(Deserialize)]
struct Customer<'a> {
    id: i64,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    email: Cow<'a, str>,
    #[serde(borrow)]
    phone: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    address: Address<'a>,
    #[serde(borrow)]
    tags: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    created_at: Cow<'a, str>,
    #[serde(borrow)]
    order: CustomerOrder<'a>,
}

#[derive(Deserialize)]
struct Address<'a> {
    #[serde(borrow)]
    street: Cow<'a, str>,
    #[serde(borrow)]
    city: Cow<'a, str>,
    #[serde(borrow)]
    zip: Cow<'a, str>,
    #[serde(borrow)]
    country: Cow<'a, str>,
}

#[derive(Deserialize)]
struct CustomerOrder<'a> {
    #[serde(borrow)]
    line_items: Vec<LineItem<'a>>,
}

#[derive(Deserialize)]
struct LineItem<'a> {
    qty: i64,
    #[serde(borrow)]
    price: &'a RawValue,
}

/// The output row: borrowed text, serialized straight to the writer.
#[derive(Serialize)]
struct Row<'a> {
    customer_id: i64,
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
    country: &'a str,
    city: &'a str,
    address: &'a str,
    tags: &'a str,
    item_count: usize,
    order_total: &'a RawValue,
    active: bool,
    phone: &'a str,
    created: &'a str,
    source: &'a str,
    tier: &'a str,
}

/// The strongest hand-written program: typed, borrowed, only what the map reads, buffers reused
/// from line to line (the line's bytes, the computed texts, the output row), each row
/// serialized into a reused buffer and written with one call.
///
/// Each line is checked as UTF-8 once and parsed as `&str`: `serde_json::from_slice` on the bytes
/// checks each string's UTF-8 on its own instead, which measured 14 % more instructions here.
fn typed(mut reader: impl BufRead, mut writer: impl Write) -> std::io::Result<()> {
    let bad = |e: &dyn std::fmt::Display| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string());
    let (mut email, mut country, mut address, mut tags, mut total_text) =
        (String::new(), String::new(), String::new(), String::new(), String::new());
    let (mut line, mut row_bytes) = (Vec::with_capacity(1024), Vec::with_capacity(1024));
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = std::str::from_utf8(&line).map_err(|e| bad(&e))?;
        let c: Customer = serde_json::from_str(text).map_err(|e| bad(&e))?;
        let mut parts = c.name.split(' ');
        let (first_name, last_name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        // ASCII is mapped in place; other text the whole-string way (a final Σ is ς).
        email.clear();
        if c.email.is_ascii() {
            email.push_str(&c.email);
            email.make_ascii_lowercase();
        } else {
            email.push_str(&c.email.to_lowercase());
        }
        country.clear();
        if c.address.country.is_ascii() {
            country.push_str(&c.address.country);
            country.make_ascii_uppercase();
        } else {
            country.push_str(&c.address.country.to_uppercase());
        }
        address.clear();
        for part in [&c.address.street, ", ", &c.address.zip, " ", &c.address.city] {
            address.push_str(part);
        }
        tags.clear();
        for (i, t) in c.tags.iter().enumerate() {
            if i > 0 {
                tags.push(',');
            }
            tags.push_str(t);
        }
        let mut total = Decimal::ZERO;
        for li in &c.order.line_items {
            // A number, or a string holding one (as the map's `Decimal` accepts).
            let raw = li.price.get();
            let text = raw.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(raw);
            let price = Decimal::from_str_exact(text).map_err(|e| bad(&e))?;
            total = Decimal::from(li.qty)
                .checked_mul(price)
                .and_then(|x| total.checked_add(x))
                .ok_or_else(|| bad(&"overflow"))?;
        }
        total_text.clear();
        // With its scale, as flowc writes a Decimal (`3 * 119.90` is `359.70`).
        std::fmt::Write::write_fmt(&mut total_text, format_args!("{total}")).map_err(|e| bad(&e))?;
        let tier = if total > Decimal::ONE_THOUSAND {
            "gold"
        } else if total > Decimal::ONE_HUNDRED {
            "silver"
        } else {
            "bronze"
        };
        let row = Row {
            customer_id: c.id,
            first_name,
            last_name,
            email: &email,
            country: &country,
            city: &c.address.city,
            address: &address,
            tags: &tags,
            item_count: c.order.line_items.len(),
            // The Decimal's text as a JSON number (serde_json writes a number's text only from a
            // `RawValue`, which checks it: a short parse of a few digits).
            order_total: serde_json::from_str(&total_text).map_err(|e| bad(&e))?,
            active: c.status == "active",
            phone: c.phone.as_deref().unwrap_or("unknown"),
            // RFC 3339: the first ten characters are the date in the timestamp's own offset.
            created: c.created_at.get(..10).ok_or_else(|| bad(&"a short timestamp"))?,
            source: "shop",
            tier,
        };
        row_bytes.clear();
        serde_json::to_writer(&mut row_bytes, &row)?;
        row_bytes.push(b'\n');
        writer.write_all(&row_bytes)?;
    }
    writer.flush()
}

/// The straightforward way: parse each line to a Value, build the output Value, serialize.
/// Money is summed as Decimals from each price's text, so the total is exact like flowc's, and
/// written back through a JSON number (exact for totals of up to 15 digits, as here).
fn by_value(reader: impl BufRead, mut writer: impl Write) -> std::io::Result<()> {
    let bad = |e: &dyn std::fmt::Display| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string());
    for line in reader.lines() {
        let line = line?;
        let c: Value = serde_json::from_str(&line)?;
        let parts: Vec<&str> = c["name"].as_str().unwrap_or("").split(' ').collect();
        let items = c["order"]["line_items"].as_array().cloned().unwrap_or_default();
        let mut total = Decimal::ZERO;
        for i in &items {
            let price = Decimal::from_str_exact(&i["price"].to_string()).map_err(|e| bad(&e))?;
            total += Decimal::from(i["qty"].as_i64().unwrap_or(0)) * price;
        }
        let a = &c["address"];
        let s = |v: &Value| v.as_str().unwrap_or("").to_string();
        let tags: Vec<String> = c["tags"].as_array().into_iter().flatten().map(s).collect();
        let mut out = Map::new();
        out.insert("customer_id".into(), c["id"].clone());
        out.insert("first_name".into(), json!(parts.first().copied().unwrap_or("")));
        out.insert("last_name".into(), json!(parts.get(1).copied().unwrap_or("")));
        out.insert("email".into(), json!(s(&c["email"]).to_lowercase()));
        out.insert("country".into(), json!(s(&a["country"]).to_uppercase()));
        out.insert("city".into(), a["city"].clone());
        out.insert("address".into(), json!(format!("{}, {} {}", s(&a["street"]), s(&a["zip"]), s(&a["city"]))));
        out.insert("tags".into(), json!(tags.join(",")));
        out.insert("item_count".into(), json!(items.len()));
        out.insert("order_total".into(), serde_json::from_str(&total.normalize().to_string())?);
        out.insert("active".into(), json!(c["status"] == "active"));
        out.insert("phone".into(), if c["phone"].is_null() { json!("unknown") } else { c["phone"].clone() });
        out.insert("created".into(), json!(s(&c["created_at"]).chars().take(10).collect::<String>()));
        out.insert("source".into(), json!("shop"));
        let tier = if total > Decimal::ONE_THOUSAND {
            "gold"
        } else if total > Decimal::ONE_HUNDRED {
            "silver"
        } else {
            "bronze"
        };
        out.insert("tier".into(), json!(tier));
        serde_json::to_writer(&mut writer, &Value::Object(out))?;
        writer.write_all(b"\n")?;
    }
    writer.flush()
}

const RUN_FLOW: &str = "tests/data/run/bench_pull_map_post.flow";
/// The same with an incremental cursor (`flowc-state`).
const RUN_STATE_FLOW: &str = "tests/data/state/bench_with_state.flow";

fn run_bench(records: u64, runs: usize, baseline: bool) -> Result<()> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    println!(
        "pull {records} orders by cursor (500 a page), map each, POST each (16 at a time) to the fake API on 127.0.0.1"
    );
    println!(
        "each program runs in its own process with its own fake API; both use both cores; {runs} rounds: without \
         and with state back to back (alternating which goes first){}\n",
        if baseline { ", then the hand-written program" } else { "" }
    );
    println!("load average before: {}", load_average());
    let mut programs =
        vec![("flowc", "flowc run (flow_runtime)"), ("flowc-state", "flowc run, with state (checkpoints)")];
    if baseline {
        programs.push(("baseline", "hand-written tokio + reqwest"));
    }
    let mut runs_of: Vec<Vec<Measured>> = vec![Vec::new(); programs.len()];
    for round in 0..runs {
        // The pair runs back to back, so a busy moment of the machine falls on both; which goes
        // first alternates, so neither always follows the other's page cache and disk traffic.
        let mut order: Vec<usize> = if round % 2 == 0 { vec![0, 1] } else { vec![1, 0] };
        if baseline {
            order.push(2);
        }
        for i in order {
            let cmd =
                vec![me.display().to_string(), "run-engine".into(), programs[i].0.to_string(), records.to_string()];
            runs_of[i].push(measured(&cmd)?);
        }
    }
    println!("load average after: {}\n", load_average());
    println!(
        "{:<36} {:>24} {:>12} {:>24} {:>10}",
        "program", "wall s, median (range)", "records/s", "CPU s, median (range)", "peak MB"
    );
    let mut medians = Vec::new();
    for (i, (_, label)) in programs.iter().enumerate() {
        let wall = Spread::of(runs_of[i].iter().map(|m| m.wall).collect());
        let cpu = runs_of[i].iter().map(|m| m.cpu).collect::<Option<Vec<f64>>>().map(Spread::of);
        let peak = runs_of[i].iter().filter_map(|m| m.peak_kib).max();
        println!(
            "{label:<36} {:>24} {:>12.0} {:>24} {:>10}",
            format!("{:.2} ({:.2}–{:.2})", wall.median, wall.min, wall.max),
            records as f64 / wall.median,
            cpu.map_or("?".into(), |c| format!("{:.2} ({:.2}–{:.2})", c.median, c.min, c.max)),
            peak.map_or("?".into(), |p| format!("{:.1}", p as f64 / 1024.0))
        );
        medians.push(wall.median);
    }
    if baseline {
        println!(
            "\nflowc runs at {:.2}× the hand-written program's speed (medians; peak memory includes the fake API)",
            medians[2] / medians[0]
        );
    }
    // Per pair: the share of throughput lost, 1 − t(without) / t(with), and the extra CPU time.
    let pairs = runs_of[0].iter().zip(&runs_of[1]);
    let lost: Vec<f64> = pairs.clone().map(|(without, with)| (1.0 - without.wall / with.wall) * 100.0).collect();
    let interval = median_interval(&lost).map_or_else(
        || "too few pairs for a 95% interval".into(),
        |(lo, hi)| format!("95% interval of the median {lo:.1}% to {hi:.1}%"),
    );
    let lost = Spread::of(lost);
    println!(
        "\ncheckpointing costs {:.1}% of the run's throughput: the median of {runs} pairs' 1 − t(without)/t(with), \
         {interval}; interquartile range {:.1}% to {:.1}% (all pairs {:.1}% to {:.1}%)",
        lost.median, lost.q1, lost.q3, lost.min, lost.max
    );
    let cpu_pairs =
        pairs.map(|(without, with)| Some((with.cpu? / without.cpu? - 1.0) * 100.0)).collect::<Option<Vec<_>>>();
    if let Some(extra) = cpu_pairs.map(Spread::of) {
        println!(
            "and {:.1}% more CPU time (user + system of the process, which includes its fake API): the median of the \
             pairs' t(with)/t(without) − 1, interquartile range {:.1}% to {:.1}%",
            extra.median, extra.q1, extra.q3
        );
    }
    Ok(())
}

/// `/proc/loadavg`'s three averages, or `?`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// A distribution-free 95% confidence interval of a sample's median: the `k`-th smallest and
/// `k`-th largest values, `k` the greatest with P(Binomial(n, ½) < k) ≤ 2.5% (so the interval
/// holds the median with at least 95%). `None` below 6 values, where no such `k` exists.
fn median_interval(xs: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len();
    // P(B = i) for B ~ Binomial(n, ½), summed from i = 0 while the tail stays within 2.5%;
    // kept as its logarithm, since ½ⁿ itself is 0 in an f64 past n = 1074.
    let (mut k, mut tail, mut ln_p) = (0usize, 0.0f64, -(n as f64) * std::f64::consts::LN_2);
    while k < n / 2 && tail + ln_p.exp() <= 0.025 {
        tail += ln_p.exp();
        k += 1;
        ln_p += ((n - k + 1) as f64 / k as f64).ln();
    }
    if k == 0 {
        return None;
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some((sorted[k - 1], sorted[n - k]))
}

/// The order statistics of a sample: its median, quartiles (linear interpolation between the
/// closest ranks) and extremes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spread {
    min: f64,
    q1: f64,
    median: f64,
    q3: f64,
    max: f64,
}

impl Spread {
    /// Panics on an empty sample: every caller has at least one run.
    fn of(mut xs: Vec<f64>) -> Spread {
        xs.sort_by(f64::total_cmp);
        let at = |p: f64| {
            let pos = p * (xs.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
        };
        Spread { min: xs[0], q1: at(0.25), median: at(0.5), q3: at(0.75), max: xs[xs.len() - 1] }
    }
}

/// One run: start the fake API, move every order through, check every one arrived exactly once.
fn run_engine(which: &str, records: u64) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let config = flow_fakeapi::Config { orders: records, ..flow_fakeapi::Config::default() };
        let api = flow_fakeapi::FakeApi::start(config, 0).await.map_err(|e| e.to_string())?;
        match which {
            "flowc" | "flowc-state" => {
                let file = if which == "flowc" { RUN_FLOW } else { RUN_STATE_FLOW };
                let source =
                    std::fs::read_to_string(file).map_err(|e| format!("{file}: {e} (run from the repository root)"))?;
                let model = flow_check::check_source(&source).model.ok_or("the benchmark's .flow file has errors")?;
                let mut plan = model.into_plan();
                let base_url = |api: &str, url: String| {
                    url::Url::parse(&url)
                        .map(|url| flow_runtime::BaseUrl { api: api.to_string(), url })
                        .map_err(|e| e.to_string())
                };
                let overrides =
                    [base_url("shop", format!("{}/shop", api.url()))?, base_url("crm", format!("{}/crm", api.url()))?];
                flow_runtime::override_base_urls(&mut plan, &overrides).map_err(|e| e.to_string())?;
                let mut secrets = flow_runtime::Secrets::new();
                secrets.insert("SHOP_TOKEN", secrecy::SecretString::from("demo-shop-token"));
                secrets.insert("CRM_API_KEY", secrecy::SecretString::from("demo-crm-key"));
                // With state: a fresh store each run, so every run is a full sync with its checkpoints.
                let state = (which == "flowc-state")
                    .then(|| std::env::temp_dir().join(format!("flow-bench-state-{}.sqlite", std::process::id())));
                if let Some(p) = &state {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
                    }
                }
                let options = flow_runtime::RunOptions {
                    flow: None,
                    secrets,
                    base_dir: PathBuf::from("."),
                    state: state.clone(),
                    state_key: None,
                };
                let report = flow_runtime::run(&plan, options, std::sync::Arc::new(flow_runtime::Quiet)).await;
                if let Some(p) = &state {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
                    }
                }
                if !report.ok() {
                    return Err(format!("the run failed: {:?}", report.diagnostics.first().map(|d| &d.message)));
                }
            }
            "baseline" => baseline_run(&api.url()).await?,
            other => return Err(format!("unknown engine {other}")),
        }
        let contacts = api.received("contacts");
        let unique: std::collections::HashSet<&str> =
            contacts.iter().filter_map(|c| c["external_id"].as_str()).collect();
        if contacts.len() as u64 != records || unique.len() as u64 != records {
            return Err(format!(
                "{} contacts arrived ({} distinct) for {records} orders",
                contacts.len(),
                unique.len()
            ));
        }
        Ok(())
    })
}

/// An order as the baseline reads it: only the fields it maps.
#[derive(Deserialize)]
struct ShopOrder {
    id: i64,
    email: Option<String>,
    customer: ShopCustomer,
    total_price: f64,
    created_at: String,
}

#[derive(Deserialize)]
struct ShopCustomer {
    first_name: String,
    last_name: String,
}

#[derive(Deserialize)]
struct OrdersPage {
    orders: Vec<ShopOrder>,
    next_cursor: Option<String>,
}

#[derive(Serialize)]
struct NewContact<'a> {
    external_id: String,
    email: String,
    name: String,
    tier: &'a str,
    since: &'a str,
}

/// What one would write by hand, as well as one can: a task pages through the orders (typed,
/// only the fields it maps) and hands each page over a channel of one, so the next page is
/// fetched while this one's records are sent, as flowc does; each order is mapped to a contact
/// and POSTed with its idempotency key, at most 16 in flight.
async fn baseline_run(base: &str) -> Result<()> {
    let client = reqwest::Client::builder().build().map_err(|e| e.to_string())?;
    let (pages_tx, mut pages) = tokio::sync::mpsc::channel::<Result<OrdersPage>>(1);
    let (pager, pages_url) = (client.clone(), format!("{base}/shop/orders"));
    tokio::spawn(async move {
        let mut cursor: Option<String> = None;
        loop {
            let mut req = pager.get(&pages_url).bearer_auth("demo-shop-token").query(&[("limit", "500")]);
            if let Some(c) = &cursor {
                req = req.query(&[("cursor", c.as_str())]);
            }
            let page = match req.send().await {
                Ok(r) => r.json::<OrdersPage>().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            cursor = page.as_ref().ok().and_then(|p| p.next_cursor.clone());
            let last = cursor.is_none();
            if pages_tx.send(page).await.is_err() || last {
                return;
            }
        }
    });
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    let url = format!("{base}/crm/contacts");
    while let Some(page) = pages.recv().await {
        for o in page?.orders {
            let permit = permits.clone().acquire_owned().await.map_err(|e| e.to_string())?;
            let (client, url) = (client.clone(), url.clone());
            tasks.spawn(async move {
                let contact = NewContact {
                    external_id: format!("shop-{}", o.id),
                    email: o.email.as_deref().unwrap_or("unknown@example.com").to_lowercase(),
                    name: format!("{} {}", o.customer.first_name, o.customer.last_name),
                    tier: if o.total_price > 1000.0 { "gold" } else { "silver" },
                    since: o.created_at.get(..10).unwrap_or(""),
                };
                let r = client
                    .post(url)
                    .header("x-api-key", "demo-crm-key")
                    .header("idempotency-key", format!("order-{}", o.id))
                    .json(&contact)
                    .send()
                    .await;
                drop(permit);
                match r {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("status {}", r.status())),
                    Err(e) => Err(e.to_string()),
                }
            });
            while let Some(done) = tasks.try_join_next() {
                done.map_err(|e| e.to_string())??;
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(())
}

const FIRST: [&str; 8] = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken"];
const LAST: [&str; 8] = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson"];
const CITIES: [(&str, &str, &str); 4] =
    [("Berlin", "10115", "de"), ("Paris", "75001", "fr"), ("Amsterdam", "1011", "nl"), ("Vienna", "1010", "at")];
const SKUS: [(&str, f64); 5] =
    [("KB-01", 89.9), ("MS-02", 39.5), ("MN-27", 329.0), ("HD-05", 119.99), ("CB-10", 12.25)];

/// Deterministic records of about 580 bytes, with fields the map does not read.
fn generate(records: u64, path: &Path) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    for id in 1..=records {
        let (city, zip, country) = CITIES[(id % 4) as usize];
        let items: Vec<Value> = (0..(1 + id % 3))
            .map(|k| {
                let (sku, price) = SKUS[((id + k) % 5) as usize];
                json!({ "sku": sku, "qty": 1 + (id + k) % 4, "price": price })
            })
            .collect();
        let status = ["active", "inactive", "banned"][(id % 3) as usize];
        let record = json!({
            "id": id,
            "name": format!("{} {}", FIRST[(id % 8) as usize], LAST[(id / 8 % 8) as usize]),
            "email": format!("{}.{}{}@Example.COM", FIRST[(id % 8) as usize], LAST[(id / 8 % 8) as usize], id),
            "phone": if id % 5 == 0 { Value::Null } else { json!(format!("+49 30 {:07}", id % 10_000_000)) },
            "status": status,
            "address": { "street": format!("{} Main Street", id % 200), "city": city, "zip": zip, "country": country },
            "tags": ["newsletter", if id % 2 == 0 { "vip" } else { "trial" }],
            "created_at": format!("2026-{:02}-{:02}T{:02}:{:02}:00Z", 1 + id % 12, 1 + id % 28, id % 24, id % 60),
            "order": { "id": format!("ord-{id:08}"), "currency": "EUR", "line_items": items },
            "marketing": { "source": "campaign-2026-spring", "medium": "email", "opt_in": id % 2 == 0 },
            "notes": "fields the map does not read are skipped without being built, whatever their size",
        });
        serde_json::to_writer(&mut w, &record)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flow-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// The comparison is exact: line counts, key sets, numbers by their text, strings decoded.
    /// The quartiles interpolate between ranks; the order of the sample does not matter.
    #[test]
    fn a_spread_is_the_samples_order_statistics() {
        let s = Spread::of(vec![5.0, 1.0, 4.0, 2.0, 3.0]);
        assert_eq!(s, Spread { min: 1.0, q1: 2.0, median: 3.0, q3: 4.0, max: 5.0 });
        let s = Spread::of(vec![4.0, 1.0, 3.0, 2.0]);
        assert_eq!(s, Spread { min: 1.0, q1: 1.75, median: 2.5, q3: 3.25, max: 4.0 });
        assert_eq!(Spread::of(vec![7.0]).median, 7.0);
    }

    /// The interval's ranks are the binomial ones of the tables (n = 6: the extremes; n = 31:
    /// the 10th from each end), and it is not given where none reaches 95%.
    #[test]
    fn the_medians_interval_takes_the_binomial_ranks() {
        let sample = |n: usize| (1..=n).rev().map(|i| i as f64).collect::<Vec<_>>();
        assert_eq!(median_interval(&sample(5)), None);
        assert_eq!(median_interval(&sample(6)), Some((1.0, 6.0)));
        assert_eq!(median_interval(&sample(9)), Some((2.0, 8.0)));
        assert_eq!(median_interval(&sample(31)), Some((10.0, 22.0)));
        // Past n = 1074, ½ⁿ is 0 in an f64: the ranks are still near n/2 ∓ 0.98·√n.
        let (lo, hi) = median_interval(&sample(2000)).expect("an interval");
        assert!((950.0..=960.0).contains(&lo) && hi == 2001.0 - lo, "{lo} to {hi}");
    }

    #[test]
    fn outputs_agree_only_when_they_hold_the_same_records() {
        let a = temp("a.ndjson", "{\"n\":179.8,\"s\":\"a\\u00e9\",\"b\":true}\n{\"n\":1}\n");
        let same = temp("same.ndjson", "{\"b\":true,\"s\":\"aé\",\"n\":179.8}\n{\"n\":1}\n");
        assert_eq!(agree(&a, &same, Numbers::Exact), Ok(2), "key order and string escapes do not matter");
        for (name, text) in [
            ("double", "{\"n\":179.80000000000001,\"s\":\"aé\",\"b\":true}\n{\"n\":1}\n"),
            ("scale", "{\"n\":179.80,\"s\":\"aé\",\"b\":true}\n{\"n\":1}\n"),
            ("text", "{\"n\":179.8,\"s\":\"ae\",\"b\":true}\n{\"n\":1}\n"),
            ("key", "{\"n\":179.8,\"s\":\"aé\",\"c\":true}\n{\"n\":1}\n"),
            ("extra key", "{\"n\":179.8,\"s\":\"aé\",\"b\":true,\"x\":1}\n{\"n\":1}\n"),
            ("bool", "{\"n\":179.8,\"s\":\"aé\",\"b\":false}\n{\"n\":1}\n"),
            ("short", "{\"n\":179.8,\"s\":\"aé\",\"b\":true}\n"),
            ("long", "{\"n\":179.8,\"s\":\"aé\",\"b\":true}\n{\"n\":1}\n{\"n\":2}\n"),
        ] {
            let b = temp(&format!("{name}.ndjson"), text);
            assert!(agree(&a, &b, Numbers::Exact).is_err(), "{name} must differ");
        }
        let double = temp("d.ndjson", "{\"n\":179.80000000000001,\"s\":\"aé\",\"b\":true}\n{\"n\":1}\n");
        assert_eq!(agree(&a, &double, Numbers::AsDoubles), Ok(2), "jq's doubles are compared as doubles");
    }

    /// The hand-written programs write exactly what flowc writes, on generated records and on
    /// records with escapes (borrowing falls back to owned text), non-ASCII text and no items.
    #[test]
    fn the_hand_written_programs_write_what_flowc_writes() {
        let input = std::env::temp_dir().join(format!("flow-bench-test-{}-in.ndjson", std::process::id()));
        generate(300, &input).expect("generate");
        let mut text = std::fs::read_to_string(&input).expect("read");
        text.push_str(concat!(
            r#"{"id":9001,"name":"Zoë \"Q\" Ünal","email":"ZOË@EXAMPLE.COM","phone":"+1 \u0032","status":"inactive","#,
            r#""address":{"street":"Straße 5\n","city":"Köln","zip":"50667","country":"de"},"tags":["a,b","\u00e9"],"#,
            r#""created_at":"2026-03-03T23:30:00-05:00","order":{"id":"o","currency":"EUR","line_items":[]}}"#,
            "\n",
            r#"{"id":9002,"name":"Mononym","email":"m@x.io","phone":null,"status":"active","#,
            r#""address":{"street":"1","city":"X","zip":"1","country":"ΣΑΣ"},"tags":[],"#,
            r#""created_at":"2026-01-01T00:00:00Z","order":{"id":"p","currency":"EUR","line_items":[{"sku":"A","qty":3,"price":119.99},{"sku":"B","qty":7,"price":"0.10000000000000000000000001"}]}}"#,
            "\n",
        ));
        let input = temp("special.ndjson", &text);
        let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(FLOW))
            .expect("the benchmark's map");
        // Runs one program over `input`, writing `out-NAME.ndjson` beside it.
        type Program<'p> = &'p dyn Fn(BufReader<std::fs::File>, BufWriter<std::fs::File>) -> Result<()>;
        let run = |input: &Path, name: &str, f: Program| {
            let out = input.with_file_name(format!("out-{name}.ndjson"));
            let reader = BufReader::new(std::fs::File::open(input).expect("input"));
            f(reader, BufWriter::new(std::fs::File::create(&out).expect("output"))).expect(name);
            out
        };
        let flowc = run(&input, "flowc", &|r, w| flowc_engine(&source, r, w));
        let typed_out = run(&input, "typed", &|r, w| typed(r, w).map_err(|e| e.to_string()));
        assert_eq!(agree(&flowc, &typed_out, Numbers::Exact), Ok(302));
        // The Value program reads numbers as doubles: the 26-digit price is beyond it.
        let mut short = text.lines().take(301).collect::<Vec<_>>().join("\n");
        short.push('\n');
        let input = temp("short.ndjson", &short);
        let flowc = run(&input, "short-flowc", &|r, w| flowc_engine(&source, r, w));
        let value_out = run(&input, "short-value", &|r, w| by_value(r, w).map_err(|e| e.to_string()));
        // A double has no scale (`359.70` is `359.7` to it): the Value program agrees as doubles.
        assert_eq!(agree(&flowc, &value_out, Numbers::AsDoubles), Ok(301));
    }
}
