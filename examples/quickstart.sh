#!/usr/bin/env bash
# The quickstart: starts the local fake API, runs examples/orders_to_crm.flow against it with
# --base-url, and shows what arrived. Needs a Rust toolchain (cargo downloads the crates on the
# first build); the run itself reaches nothing but 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
# cargo's own progress goes to stderr: the first build compiles ~200 crates.
echo "building flowc and the fake API (the first build takes a few minutes)…" >&2
cargo build -p flowc -p flow_fakeapi
# The fake API's demo credentials; a real run takes them from the environment or a .env file.
export SHOP_TOKEN=demo-shop-token CRM_API_KEY=demo-crm-key
exec target/debug/flow-fakeapi exec -- \
  target/debug/flowc run examples/orders_to_crm.flow \
  --base-url 'shop={url}/shop' --base-url 'crm={url}/crm'
