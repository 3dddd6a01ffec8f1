//! The checker's API in one place; its behaviour is tested by the corpora in tests/data.

use super::*;

const GOOD: &str = r#"
secret TOKEN
api shop {
  base_url = "https://shop.example.com/api"
  auth = bearer(TOKEN)
}
type Order { id: Int, email: String?, total: Decimal, status: "open" | "closed" }
type Contact { external_id: String, email: String, tier: "gold" | "silver" }
endpoint list_orders = shop GET "/orders" -> { orders: [Order], next: String? } {
  records = response.orders
  paginate = cursor(param: "cursor", from: response.next)
}
endpoint create_contact = shop POST "/contacts" (body: Contact) -> { id: String }
map to_contact(o: Order) -> Contact {
  tier = if o.total > 1000 then "gold" else "silver"
  external_id = "shop-" + str(o.id)
  email = lower(o.email ?? "unknown@example.com")
}
flow sync {
  for o in list_orders where o.status != "closed" {
    create_contact(body: to_contact(o))
  }
}
"#;

#[test]
fn a_good_file_checks_and_lowers() {
    let checked = check_source(GOOD);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
    let plan = lower(&checked.model.expect("a model"));
    assert_eq!(plan.apis[0].timeout_ms, DEFAULT_TIMEOUT_MS);
    assert_eq!(plan.flows[0].concurrency, DEFAULT_FLOW_CONCURRENCY);
    // Fields come out in the target type's order, whatever order the map set them in.
    let names: Vec<&str> = plan.maps[0].fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["external_id", "email", "tier"]);
    assert_eq!(plan.secrets, ["TOKEN"]);
}

#[test]
fn errors_mean_no_model_and_all_are_reported() {
    let bad = GOOD.replace("o.email ??", "o.emial ??").replace("\"gold\" else", "\"bronze\" else");
    let checked = check_source(&bad);
    assert!(checked.model.is_none());
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0205", "E0104"], "{:#?}", checked.diagnostics);
}

#[test]
fn warnings_alone_keep_the_model() {
    let src = format!("{GOOD}\nsecret UNUSED_ONE\n");
    let checked = check_source(&src);
    assert!(checked.model.is_some());
    assert_eq!(checked.diagnostics.len(), 1);
    assert_eq!(checked.diagnostics[0].code, "W0001");
}
