//! The function library is tested call by call. tests/data/library/builtins.flow holds a
//! `test` block per built-in (every one must pass); the failure cases below must fail with their
//! message at their call. Every built-in of the registry (`flow_plan::Builtin::table()`) must be
//! called inside an `expect` whose result is asserted: an `expect` of a passing `test` block in
//! tests/data/library, tests/data/ok or examples/, or a failure case below. A built-in reached
//! only through a map or a `let` does not count. (The library is not in tests/data/ok so that
//! its hundreds of expectations do not become a plan snapshot.)

mod common;

use std::collections::BTreeSet;

use flow_plan::Builtin;

/// The file with a `test` block per built-in; its helper functions serve the cases below too.
const LIBRARY: &str = "tests/data/library/builtins.flow";

/// The built-ins called in an expression (its plan as JSON), not looking into the maps and
/// functions it calls: those are declarations of their own, whose results the `expect` may not
/// assert.
fn called(expr: &serde_json::Value, into: &mut BTreeSet<String>) {
    match expr {
        serde_json::Value::Object(fields) => {
            if fields.get("node").and_then(|n| n.as_str()) == Some("call_fn") {
                let func = fields.get("func").cloned().unwrap_or_default();
                let b: Builtin = serde_json::from_value(func).expect("a call names a built-in");
                into.insert(b.name().to_string());
            }
            fields.values().for_each(|v| called(v, into));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| called(v, into)),
        _ => {}
    }
}

/// The built-ins called by the `expect`s of the passing tests of a plan.
fn asserted_by_passing_tests(plan: &flow_plan::Plan) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (test, report) in
        plan.tests.iter().zip(flow_eval::test_blocks::run_tests(&flow_eval::Program::new(plan.clone())))
    {
        if !report.passed {
            continue;
        }
        for step in &test.steps {
            if let flow_plan::TestStep::Expect { expr, .. } = step {
                called(&serde_json::to_value(expr).expect("an expression serializes"), &mut out);
            }
        }
    }
    out
}

fn plan_of(name: &str, source: &str) -> flow_plan::Plan {
    let checked = flow_check::check_source(source);
    let rendered =
        flow_diagnostics::render_diagnostics(name, source, &checked.diagnostics, flow_diagnostics::Color::Never);
    assert!(checked.diagnostics.is_empty(), "{name} should check clean:\n{rendered}");
    checked.model.expect("a model").into_plan()
}

/// Failure paths an `expect` cannot assert with `catch` (overflow, out of range, `fail`, a
/// failing lambda): (built-in, expectation, words of the R0005 message, the text the failure
/// points at: the call, or the failing expression inside its lambda).
const FAILURES: &[(&str, &str, &str, &str)] = &[
    ("abs", "abs(-9223372036854775807 - 1) == 0", "integer overflow in `abs`", "abs(-9223372036854775807 - 1)"),
    ("sum", "sum([9223372036854775807, 1]) == 0", "integer overflow in `+`", "sum([9223372036854775807, 1])"),
    (
        "sum",
        "sum(lines([{ sku: \"A\", qty: 2, price: 7922816251426433759354395033.5 }]), l => l.qty * l.price * 20) == 0",
        "Decimal overflow in `*`",
        "l.qty * l.price * 20",
    ),
    ("floor", "floor(fl(1e19)) == 0", "does not fit in an Int", "floor(fl(1e19))"),
    (
        "ceil",
        "ceil(dec(7922816251426433759354395033.5)) == 0",
        "does not fit in an Int",
        "ceil(dec(7922816251426433759354395033.5))",
    ),
    ("int", "int(fl(-1e19)) == 0", "does not fit in an Int", "int(fl(-1e19))"),
    (
        "decimal",
        "decimal(parse_float(\"1e30\") catch fl(0)) == 0",
        "does not fit in a Decimal",
        "decimal(parse_float(\"1e30\") catch fl(0))",
    ),
    (
        "round",
        "round(dec(7922816251426433759354395033.5) * 10, -28) == 0",
        "does not fit in a Decimal",
        "round(dec(7922816251426433759354395033.5) * 10, -28)",
    ),
    ("round", "round(dec(1), -29) == 0", "does not fit in a Decimal", "round(dec(1), -29)"),
    ("round", "round(9223372036854775807, -1) == 0", "does not fit in an Int", "round(9223372036854775807, -1)"),
    (
        "add_days",
        "add_days(day(\"2026-01-01\"), 9223372036854775807) == day(\"2026-01-01\")",
        "out of range",
        "add_days(day(\"2026-01-01\"), 9223372036854775807)",
    ),
    (
        "add_days",
        "add_days(at(\"2026-01-01T00:00:00Z\"), 1000000000) == at(\"2026-01-01T00:00:00Z\")",
        "out of range",
        "add_days(at(\"2026-01-01T00:00:00Z\"), 1000000000)",
    ),
    ("pad_left", "len(pad_left(\"x\", 2000000, \" \")) == 0", "more than 1048576", "pad_left(\"x\", 2000000, \" \")"),
    (
        "pad_right",
        "len(pad_right(\"x\", 9223372036854775807)) == 0",
        "more than 1048576",
        "pad_right(\"x\", 9223372036854775807)",
    ),
    ("fail", "(parse_int(\"x\") catch fail(\"unreadable: x\")) == 0", "unreadable: x", "fail(\"unreadable: x\")"),
    ("fail", "upper(fail(\"no name\")) == \"\"", "no name", "fail(\"no name\")"),
    ("map", "map([1, 0], x => 10 / x) == ints([])", "division by zero", "10 / x"),
    ("filter", "filter([1, 0], x => 10 / x > 1) == ints([])", "division by zero", "10 / x"),
    ("find", "find([1, 0], x => 10 / x > 20) == null", "division by zero", "10 / x"),
    ("any", "any([1, 0], x => 10 / x > 20)", "division by zero", "10 / x"),
    ("all", "all([1, 0], x => 10 / x > 1)", "division by zero", "10 / x"),
    ("count", "count([1, 0], x => 10 / x > 1) == 0", "division by zero", "10 / x"),
    ("sum", "sum([1, 0], x => 10 / x) == 0", "division by zero", "10 / x"),
    ("min", "min([1, 0], x => 10 / x) == null", "division by zero", "10 / x"),
    ("max", "max([1, 0], x => 10 / x) == null", "division by zero", "10 / x"),
    ("sort_by", "sort_by([1, 0], x => 10 / x) == ints([])", "division by zero", "10 / x"),
    ("group_by", "len(group_by([1, 0], x => 10 / x)) == 0", "division by zero", "10 / x"),
];

#[test]
fn the_library_tests_pass() {
    let source = std::fs::read_to_string(common::root().join(LIBRARY)).expect("read the library tests");
    let plan = plan_of(LIBRARY, &source);
    let reports = flow_eval::test_blocks::run_tests(&flow_eval::Program::new(plan.clone()));
    assert!(reports.len() >= 30, "the library lost its tests");
    for t in reports {
        let why =
            flow_diagnostics::render_diagnostics(LIBRARY, &source, &t.diagnostics, flow_diagnostics::Color::Never);
        assert!(t.passed, "{LIBRARY}: test {:?} fails:\n{why}", t.name);
    }
}

#[test]
fn failure_paths_fail_with_their_message_at_their_call() {
    let library = std::fs::read_to_string(common::root().join(LIBRARY)).expect("read the library tests");
    for (builtin, expr, words, at_text) in FAILURES {
        let source = format!("{library}\ntest \"failure\" {{\n  expect {expr}\n}}\n");
        let plan = plan_of(&format!("{LIBRARY} + `{expr}`"), &source);
        let report =
            flow_eval::test_blocks::run_tests(&flow_eval::Program::new(plan.clone())).pop().expect("the failure test");
        assert!(!report.passed, "`{expr}` should fail");
        let [d] = report.diagnostics.as_slice() else {
            panic!("`{expr}`: one diagnostic expected, got {:?}", report.diagnostics);
        };
        assert_eq!(d.code, "R0005", "`{expr}`: {d:?}");
        assert!(d.message.contains(words), "`{expr}`: {:?} does not say {words:?}", d.message);
        // The failure points at the call that failed, in the .flow source.
        let label = d.labels.iter().find(|l| l.primary).expect("a primary label");
        let at = &source[label.span.start as usize..label.span.end as usize];
        assert_eq!(at, *at_text, "`{expr}`: where the failure of `{builtin}` points");
    }
}

#[test]
fn every_builtin_is_called_by_an_asserting_test() {
    let mut files = common::flow_files("tests/data/library");
    files.extend(common::flow_files("tests/data/ok"));
    files.extend(common::flow_files("examples"));
    let mut asserted = BTreeSet::new();
    for path in &files {
        let source = std::fs::read_to_string(path).expect("read");
        asserted.extend(asserted_by_passing_tests(&plan_of(&common::display(path), &source)));
    }
    // The failure cases are asserted too (by the test above).
    let library = std::fs::read_to_string(common::root().join(LIBRARY)).expect("read the library tests");
    for (builtin, expr, _, _) in FAILURES {
        let source = format!("{library}\ntest \"failure\" {{\n  expect {expr}\n}}\n");
        let plan = plan_of(LIBRARY, &source);
        let mut here = BTreeSet::new();
        if let Some(flow_plan::TestStep::Expect { expr, .. }) = plan.tests.last().and_then(|t| t.steps.first()) {
            called(&serde_json::to_value(expr).expect("serializes"), &mut here);
        }
        assert!(here.contains(*builtin), "the failure case `{expr}` does not call `{builtin}`");
        asserted.insert(builtin.to_string());
    }
    let missing: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).filter(|name| !asserted.contains(*name)).collect();
    assert!(
        missing.is_empty(),
        "built-ins that no `expect` asserts (add a test to {LIBRARY}, or a failure case to tests/builtins.rs): {missing:?}"
    );
    // Names the walk found are real built-ins: the JSON shape of a call has not changed under it.
    for name in &asserted {
        assert!(Builtin::from_name(name).is_some(), "`{name}` is not a built-in");
    }
    assert!(asserted.len() >= Builtin::ALL.len(), "{asserted:?}");
}
