//! `flow-fakeapi`: the fake API as a program.
//!
//! `flow-fakeapi serve [--port N]` serves until interrupted.
//! `flow-fakeapi exec -- CMD ARGS…` starts the server on a free port, runs CMD with every `{url}`
//! in its arguments replaced by the server's URL (and `FAKEAPI_URL` set), then prints what
//! arrived, and exits with CMD's exit code.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flow_fakeapi::{Config, FakeApi};

#[derive(Parser)]
#[command(name = "flow-fakeapi", about = "A local fake of the example APIs, on 127.0.0.1")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How many shop orders to serve.
    #[arg(long, global = true, default_value_t = 250)]
    orders: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Serve until interrupted.
    Serve {
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Serve while a command runs, then show what arrived.
    Exec {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = Config { orders: cli.orders, ..Config::default() };
    match cli.command {
        Command::Serve { port } => {
            let api = match FakeApi::start(config, port).await {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("flow-fakeapi: cannot listen on 127.0.0.1:{port}: {e}");
                    return ExitCode::from(2);
                }
            };
            println!("fake API listening on {}", api.url());
            let _ = tokio::signal::ctrl_c().await;
            ExitCode::SUCCESS
        }
        Command::Exec { command } => {
            let api = match FakeApi::start(config, 0).await {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("flow-fakeapi: cannot listen on 127.0.0.1: {e}");
                    return ExitCode::from(2);
                }
            };
            let url = api.url();
            eprintln!("fake API listening on {url}");
            let args: Vec<String> = command.iter().map(|a| a.replace("{url}", &url)).collect();
            eprintln!("$ {}", args.join(" "));
            let status =
                tokio::process::Command::new(&args[0]).args(&args[1..]).env("FAKEAPI_URL", &url).status().await;
            let code = match status {
                Ok(s) => s.code().unwrap_or(1),
                Err(e) => {
                    eprintln!("flow-fakeapi: cannot run {}: {e}", args[0]);
                    return ExitCode::from(2);
                }
            };
            for collection in ["contacts", "messages", "members"] {
                let items = api.received(collection);
                if items.is_empty() {
                    continue;
                }
                println!("\nThe fake API received {} {collection}. The first three:", items.len());
                for item in items.iter().take(3) {
                    println!("  {item}");
                }
            }
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}
