//! `flow-bench map`: generates N nested customer/order records as NDJSON (about 580 bytes each),
//! maps them with the 15-field map in tests/data/ok/bench_customer_map.flow, and times three
//! programs on the same file, each in a child process pinned to one core:
//!
//! - flowc's map engine (the code behind `flowc map`),
//! - jq with the equivalent program,
//! - a straightforward hand-written program on serde_json::Value (parse, build, serialize).
//!
//! It checks the three agree, and prints the times, the ratios and each one's peak memory.
//! Run with `cargo run --release -p flow_bench -- map [--records N]`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod lsp;

use clap::{Parser, Subcommand};
use serde_json::{json, Map, Value};

#[derive(Parser)]
#[command(name = "flow-bench", about = "Benchmarks of flowc")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Time the map engine against jq and a hand-written serde_json program.
    Map {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Where the data and outputs go.
        #[arg(long, default_value = "target/bench")]
        dir: PathBuf,
        /// Runs of flowc and of the hand-written program, alternating; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// (internal) Run one engine in this process: `flowc` or `baseline`.
    Engine { which: String, input: PathBuf, output: PathBuf },
    /// Time a pull-map-POST run (cursor pages, a map, POSTs 16 at a time) against the fake API:
    /// flowc's runtime against a hand-written tokio + reqwest program.
    Run {
        #[arg(long, default_value_t = 100_000)]
        records: u64,
    },
    /// (internal) One pull-map-POST run in this process, with its own fake API: `flowc` or `baseline`.
    RunEngine { which: String, records: u64 },
    /// Time what an editor waits for on a large file: `flowc check` and the language server's
    /// edit → diagnostics round trip.
    Lsp {
        #[arg(long, default_value_t = 2_000)]
        lines: usize,
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
        Cmd::Run { records } => match run_bench(records) {
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
        Cmd::Lsp { lines } => match lsp::bench(lines) {
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
    // flowc and the hand-written program alternate, so a noisy moment of the machine hits both.
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut peaks: [Option<u64>; 2] = [None, None];
    for _ in 0..runs {
        for (i, name) in ["flowc", "baseline"].into_iter().enumerate() {
            let out = dir.join(format!("out-{name}.ndjson"));
            let mut cmd = pin.clone();
            cmd.extend([
                me.display().to_string(),
                "engine".into(),
                name.into(),
                input.display().to_string(),
                out.display().to_string(),
            ]);
            let (secs, peak) = timed(&cmd)?;
            times[i].push(secs);
            peaks[i] = peaks[i].max(peak);
        }
    }
    let mut results = Vec::new();
    for (i, name) in ["flowc", "baseline"].into_iter().enumerate() {
        let mut t = times[i].clone();
        t.sort_by(f64::total_cmp);
        let (median, lo, hi) = (t[t.len() / 2], t[0], t[t.len() - 1]);
        if runs > 1 {
            println!("{name}: {runs} runs, {lo:.2}–{hi:.2} s, median {median:.2} s");
        }
        results.push((name, median, peaks[i], dir.join(format!("out-{name}.ndjson"))));
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
    agree(&results[0].3, &results[1].3)?;
    if jq.is_some() {
        agree(&results[0].3, &jq_out)?;
    }
    println!("all outputs agree ({records} records)\n");
    let flowc = results[0].1;
    println!("{:<34} {:>9} {:>12} {:>10}", "program", "seconds", "records/s", "peak MB");
    for (name, secs, peak, _) in &results {
        let label = if *name == "flowc" { "flowc map engine" } else { "hand-written serde_json::Value" };
        println!(
            "{label:<34} {secs:>9.2} {:>12.0} {:>10}",
            records as f64 / secs,
            peak.map_or("?".into(), |p| format!("{:.1}", p as f64 / 1024.0))
        );
    }
    if let Some((secs, peak)) = jq {
        println!(
            "{:<34} {secs:>9.2} {:>12.0} {:>10}",
            "jq",
            records as f64 / secs,
            peak.map_or("?".into(), |p| format!("{:.1}", p as f64 / 1024.0))
        );
        println!("\nflowc is {:.1}× faster than jq", secs / flowc);
    }
    println!("flowc is {:.2}× the speed of the hand-written serde_json::Value program", results[1].1 / flowc);
    Ok(())
}

fn which(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// Runs a command under `/usr/bin/time -v` when available: wall seconds and peak RSS (KiB).
fn timed(cmd: &[String]) -> Result<(f64, Option<u64>)> {
    let time = Path::new("/usr/bin/time").exists();
    let mut full: Vec<String> = Vec::new();
    if time {
        full.extend(["/usr/bin/time".into(), "-v".into()]);
    }
    full.extend(cmd.iter().cloned());
    let start = Instant::now();
    let out = Command::new(&full[0]).args(&full[1..]).output().map_err(|e| format!("{}: {e}", full[0]))?;
    let secs = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{} failed: {stderr}", cmd.join(" ")));
    }
    let peak = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .and_then(|v| v.trim().parse().ok());
    Ok((secs, peak))
}

/// Same records, same fields; money compared as numbers (jq and serde_json add in f64).
fn agree(a: &Path, b: &Path) -> Result<()> {
    let open = |p: &Path| std::fs::File::open(p).map(BufReader::new).map_err(|e| format!("{}: {e}", p.display()));
    let (ra, rb) = (open(a)?, open(b)?);
    let mut n = 0u64;
    for (la, lb) in ra.lines().zip(rb.lines()) {
        let (la, lb) = (la.map_err(|e| e.to_string())?, lb.map_err(|e| e.to_string())?);
        n += 1;
        let va: Value = serde_json::from_str(&la).map_err(|e| e.to_string())?;
        let vb: Value = serde_json::from_str(&lb).map_err(|e| e.to_string())?;
        for (k, x) in va.as_object().into_iter().flatten() {
            let y = &vb[k];
            let same = match (x.as_f64(), y.as_f64()) {
                (Some(p), Some(q)) => (p - q).abs() < 1e-6,
                _ => x == y,
            };
            if !same {
                return Err(format!("line {n}: {} and {} differ in `{k}`: {x} vs {y}", a.display(), b.display()));
            }
        }
    }
    Ok(())
}

fn engine(which: &str, input: &Path, output: &Path) -> Result<()> {
    let reader = BufReader::with_capacity(1 << 16, std::fs::File::open(input).map_err(|e| e.to_string())?);
    let writer = BufWriter::with_capacity(1 << 16, std::fs::File::create(output).map_err(|e| e.to_string())?);
    match which {
        "flowc" => {
            let source =
                std::fs::read_to_string(FLOW).map_err(|e| format!("{FLOW}: {e} (run from the repository root)"))?;
            let checked = flow_check::check_source(&source);
            let model = checked.model.ok_or("the benchmark's .flow file has errors")?;
            let plan = flow_check::lower(&model);
            let index = plan.maps.iter().position(|m| m.name == "to_row").ok_or("no map to_row")?;
            let summary = flow_plan::mapper::map_ndjson(&plan, index, reader, writer, std::io::sink())
                .map_err(|e| e.to_string())?;
            if summary.rejected > 0 {
                return Err(format!("{} records rejected", summary.rejected));
            }
            Ok(())
        }
        "baseline" => baseline(reader, writer).map_err(|e| e.to_string()),
        other => Err(format!("unknown engine {other}")),
    }
}

/// The straightforward way: parse each line to a Value, build the output Value, serialize.
fn baseline(reader: impl BufRead, mut writer: impl Write) -> std::io::Result<()> {
    for line in reader.lines() {
        let line = line?;
        let c: Value = serde_json::from_str(&line)?;
        let parts: Vec<&str> = c["name"].as_str().unwrap_or("").split(' ').collect();
        let items = c["order"]["line_items"].as_array().cloned().unwrap_or_default();
        let total: f64 =
            items.iter().map(|i| i["qty"].as_f64().unwrap_or(0.0) * i["price"].as_f64().unwrap_or(0.0)).sum();
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
        out.insert("order_total".into(), json!(total));
        out.insert("active".into(), json!(c["status"] == "active"));
        out.insert("phone".into(), if c["phone"].is_null() { json!("unknown") } else { c["phone"].clone() });
        out.insert("created".into(), json!(s(&c["created_at"]).chars().take(10).collect::<String>()));
        out.insert("source".into(), json!("shop"));
        let tier = if total > 1000.0 {
            "gold"
        } else if total > 100.0 {
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

fn run_bench(records: u64) -> Result<()> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    println!(
        "pull {records} orders by cursor (500 a page), map each, POST each (16 at a time) to the fake API on 127.0.0.1"
    );
    println!("each program runs in its own process with its own fake API; both use both cores\n");
    println!("{:<34} {:>9} {:>12} {:>10}", "program", "seconds", "records/s", "peak MB");
    let mut times = Vec::new();
    for which in ["flowc", "baseline"] {
        let cmd = vec![me.display().to_string(), "run-engine".into(), which.into(), records.to_string()];
        let (secs, peak) = timed(&cmd)?;
        let label = if which == "flowc" { "flowc run (flow_runtime)" } else { "hand-written tokio + reqwest" };
        println!(
            "{label:<34} {secs:>9.2} {:>12.0} {:>10}",
            records as f64 / secs,
            peak.map_or("?".into(), |p| format!("{:.1}", p as f64 / 1024.0))
        );
        times.push(secs);
    }
    println!(
        "\nflowc runs at {:.2}× the hand-written program's speed (peak memory includes the fake API)",
        times[1] / times[0]
    );
    Ok(())
}

/// One run: start the fake API, move every order through, check every one arrived exactly once.
fn run_engine(which: &str, records: u64) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let config = flow_fakeapi::Config { orders: records, ..flow_fakeapi::Config::default() };
        let api = flow_fakeapi::FakeApi::start(config, 0).await.map_err(|e| e.to_string())?;
        match which {
            "flowc" => {
                let source = std::fs::read_to_string(RUN_FLOW)
                    .map_err(|e| format!("{RUN_FLOW}: {e} (run from the repository root)"))?;
                let model = flow_check::check_source(&source).model.ok_or("the benchmark's .flow file has errors")?;
                let mut plan = flow_check::lower(&model);
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
                let options = flow_runtime::RunOptions { flow: None, secrets, base_dir: PathBuf::from(".") };
                let report = flow_runtime::run(&plan, options, std::sync::Arc::new(flow_runtime::Quiet)).await;
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

/// What one would write by hand: page through the orders, map each to a contact, POST them with
/// at most 16 in flight.
async fn baseline_run(base: &str) -> Result<()> {
    let client = reqwest::Client::builder().build().map_err(|e| e.to_string())?;
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req =
            client.get(format!("{base}/shop/orders")).bearer_auth("demo-shop-token").query(&[("limit", "500")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c.as_str())]);
        }
        let page: Value = req.send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
        for o in page["orders"].as_array().cloned().unwrap_or_default() {
            let s = |v: &Value| v.as_str().unwrap_or("").to_string();
            let contact = json!({
                "external_id": format!("shop-{}", o["id"]),
                "email": o["email"].as_str().unwrap_or("unknown@example.com").to_lowercase(),
                "name": format!("{} {}", s(&o["customer"]["first_name"]), s(&o["customer"]["last_name"])),
                "tier": if o["total_price"].as_f64().unwrap_or(0.0) > 1000.0 { "gold" } else { "silver" },
                "since": s(&o["created_at"]).chars().take(10).collect::<String>(),
            });
            let permit = permits.clone().acquire_owned().await.map_err(|e| e.to_string())?;
            let client = client.clone();
            let url = format!("{base}/crm/contacts");
            let key = format!("order-{}", o["id"]);
            tasks.spawn(async move {
                let r = client
                    .post(url)
                    .header("x-api-key", "demo-crm-key")
                    .header("idempotency-key", key)
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
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
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
