//! Durable state from the outside: the fake API's ledger of applied and replayed writes, the
//! `flowc state`, `flowc runs` and `flowc replay` commands against a store on disk, and the
//! crash test (runs killed with SIGKILL and resumed).

mod common;

use common::{flowc, DEMO_SECRETS};
use flow_fakeapi::{Config, FakeApi};

/// Runs `f` with a fake API serving `config` on a runtime of its own.
fn with_fake<T>(config: Config, f: impl FnOnce(&FakeApi) -> T) -> T {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let api = rt.block_on(FakeApi::start(config, 0)).expect("start the fake API");
    let out = f(&api);
    drop(api);
    out
}

fn shop_crm(api: &FakeApi) -> Vec<String> {
    vec!["--base-url".into(), format!("shop={}/shop", api.url()), "--base-url".into(), format!("crm={}/crm", api.url())]
}

fn run(file: &str, api: &FakeApi, extra: &[&str]) -> common::Output {
    let mut args: Vec<String> = vec!["run".into(), file.into()];
    args.extend(shop_crm(api));
    args.extend(extra.iter().map(|s| s.to_string()));
    flowc(&args, &DEMO_SECRETS)
}

#[test]
fn the_fake_counts_a_keyed_write_sent_again_as_a_replay_and_an_unkeyed_one_as_a_duplicate_effect() {
    with_fake(Config { orders: 120, ..Config::default() }, |api| {
        for _ in 0..2 {
            let out = run("tests/data/state/contacts_keyed.flow", api, &[]);
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
        let r = api.receipts("contacts");
        assert_eq!((r.applied, r.replayed, r.duplicates, r.distinct, r.keyed), (120, 120, 0, 120, 120), "{r:?}");
        assert!(r.no_duplicate_effects());
        assert_eq!(api.replays_of("contacts", "order-7"), 1);
        assert!(api.duplicated("contacts").is_empty());
    });
    with_fake(Config { orders: 120, ..Config::default() }, |api| {
        for _ in 0..2 {
            let out = run("tests/data/state/contacts_unkeyed.flow", api, &[]);
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
        let r = api.receipts("contacts");
        assert_eq!((r.applied, r.replayed, r.duplicates, r.distinct, r.keyed), (240, 0, 120, 120, 0), "{r:?}");
        let dup = api.duplicated("contacts");
        assert_eq!(dup.len(), 120);
        assert!(dup.iter().all(|a| a.times == 2 && a.keys.is_empty()));
    });
}
