//! Recursion over recursive data (issue 12, gap 6): a map or function may call itself when it
//! takes a recursive type; at run time the depth of calls is bounded (R0029), and a deep
//! recursion grows its stack instead of overflowing it, whatever stack it starts on.

use flow_diagnostics::codes;

const SOURCE: &str = r#"
type Node { name: String, children: [Node] }
type Chain { next: Chain? }
type Outline { text: String, count: Int }

fn text(n: Node) -> String = n.name + join(map(n.children, c => "(" + text(c) + ")"), "")
fn size(n: Node) -> Int = 1 + sum(map(n.children, c => size(c)))
fn spin(c: Chain, k: Int) -> Int = if k == 0 then 0 else 1 + spin(c, k - 1)

map outline(n: Node) -> Outline {
  text  = text(n)
  count = size(n)
}

test "a tree is read to its depth" {
  let t: Node = { name: "a", children: [{ name: "b", children: [{ name: "c", children: [] }] }, { name: "d", children: [] }] }
  expect outline(t) == { text: "a(b(c))(d)", count: 4 }
}

test "a thousand calls deep" {
  expect spin({ next: null }, 999) == 999
}

test "past the limit" {
  expect spin({ next: null }, 5000) == 5000
}
"#;

fn program() -> flow_eval::Program {
    let checked = flow_check::check_source(SOURCE);
    assert!(checked.diagnostics.iter().all(|d| !d.is_error()), "{:?}", checked.diagnostics);
    flow_eval::Program::new(checked.model.expect("a model").into_plan())
}

fn reports() -> Vec<flow_eval::test_blocks::TestReport> {
    flow_eval::test_blocks::run_tests(&program())
}

#[test]
fn recursion_over_recursive_data_checks_and_runs() {
    let reports = reports();
    assert!(reports[0].passed, "{:?}", reports[0].diagnostics);
    assert!(reports[1].passed, "{:?}", reports[1].diagnostics);
}

#[test]
fn recursion_past_the_call_limit_fails_with_r0029_at_the_call() {
    let reports = reports();
    let d = &reports[2].diagnostics;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, codes::CALL_TOO_DEEP.id);
    assert!(d[0].message.contains("calls nested more than 1000 deep: the function `spin`"), "{}", d[0].message);
}

/// The deepest recursion the limit allows, on a thread with a small stack (128 KiB): the stack
/// is grown, never overflowed.
#[test]
fn the_deepest_recursion_allowed_does_not_overflow_a_small_stack() {
    let plan = program();
    let reports = std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || flow_eval::test_blocks::run_tests(&plan))
        .expect("a thread")
        .join()
        .expect("no overflow, no panic");
    assert!(reports[1].passed, "{:?}", reports[1].diagnostics);
    assert_eq!(reports[2].diagnostics[0].code, "R0029");
}

/// A cycle of calls over data that is not recursive is still E0214.
#[test]
fn recursion_over_data_that_is_not_recursive_is_e0214() {
    let checked = flow_check::check_source("type Row { n: Int }\nfn f(r: Row) -> Int = f(r)\n");
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&codes::MAP_CYCLE.id), "{codes:?}");
    let checked = flow_check::check_source("fn down(k: Int) -> Int = if k == 0 then 0 else down(k - 1)\n");
    assert!(checked.diagnostics.iter().any(|d| d.code == "E0214"), "{:?}", checked.diagnostics);
}

/// A cycle with no declaration over recursive data is E0214 even when it shares its calls with
/// one that has such a declaration (here `a → x → b → a` is allowed, through `x`, but
/// `a → b → a` is not; a search that skipped the first cycle's closing call missed the second).
#[test]
fn a_cycle_without_recursive_data_beside_one_with_it_is_e0214() {
    let source = "type Row { n: Int }\ntype Node { name: String, children: [Node] }\n\
        fn a(r: Row) -> Int = x({ name: \"\", children: [] }) + b(r)\n\
        fn x(n: Node) -> Int = b({ n: 1 })\n\
        fn b(r: Row) -> Int = a(r)\n";
    let checked = flow_check::check_source(source);
    let cycles: Vec<&str> =
        checked.diagnostics.iter().filter(|d| d.code == codes::MAP_CYCLE.id).map(|d| d.message.as_str()).collect();
    assert_eq!(cycles, ["functions `a` and `b` call each other in a cycle"], "{:?}", checked.diagnostics);
}
