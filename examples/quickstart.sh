#!/usr/bin/env bash
# The quickstart: starts the local fake API, runs examples/orders_to_crm.flow against it with
# --base-url, and shows what arrived. Needs nothing but cargo; reaches no network but 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p flowc -p flow_fakeapi
# The fake API's demo credentials; a real run takes them from the environment or a .env file.
export SHOP_TOKEN=demo-shop-token CRM_API_KEY=demo-crm-key
exec target/debug/flow-fakeapi exec -- \
  target/debug/flowc run examples/orders_to_crm.flow \
  --base-url 'shop={url}/shop' --base-url 'crm={url}/crm'
