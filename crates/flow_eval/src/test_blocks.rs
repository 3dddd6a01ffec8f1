//! Running `test` blocks: each `expect` is evaluated; a failed one becomes an R0010 diagnostic
//! at the `expect`, showing both sides of an `==` as values and a line diff for records.

use flow_diagnostics::{codes, Diagnostic};

use crate::eval::{eval, Env};
use crate::{Program, Test, TestStep, Value};

/// The outcome of one test.
pub struct TestReport {
    pub name: String,
    pub passed: bool,
    /// Why it failed: one per failed `expect`, or the error that stopped it.
    pub diagnostics: Vec<Diagnostic>,
}

/// Runs every test of a plan, in file order.
pub fn run_tests(plan: &Program) -> Vec<TestReport> {
    plan.tests.iter().map(|t| run_test(plan, t)).collect()
}

fn run_test(plan: &Program, test: &Test) -> TestReport {
    let mut env = Env::new();
    let mut diagnostics = Vec::new();
    for step in &test.steps {
        match step {
            TestStep::Let { name, value, span } => match eval(value, &mut env, plan) {
                Ok(v) => env.push(name.clone(), v),
                Err(e) => {
                    diagnostics.push(
                        Diagnostic::new(*e.code, format!("`{name}` could not be computed: {}", e.message))
                            .primary(e.span.unwrap_or(*span), "failed here")
                            .note(format!("in test {:?}", test.name)),
                    );
                    break;
                }
            },
            TestStep::Expect { expr, sides, span } => match eval(expr, &mut env, plan) {
                Ok(Value::Bool(true)) => {}
                Ok(_) => {
                    let mut d =
                        Diagnostic::new(codes::TEST_FAILED, format!("expectation failed in test {:?}", test.name))
                            .primary(*span, "this is false");
                    if let Some((l, r)) = sides {
                        let left = eval(l, &mut env, plan)
                            .map(|v| pretty(&v))
                            .unwrap_or_else(|e| format!("(error: {})", e.message));
                        let right = eval(r, &mut env, plan)
                            .map(|v| pretty(&v))
                            .unwrap_or_else(|e| format!("(error: {})", e.message));
                        if left.contains('\n') || right.contains('\n') {
                            d = d.note(format!(
                                "the left side differs from the right (- left, + right):\n{}",
                                diff(&left, &right)
                            ));
                        } else {
                            d = d.note(format!("left:  {left}")).note(format!("right: {right}"));
                        }
                    }
                    diagnostics.push(d);
                }
                Err(e) => diagnostics.push(
                    Diagnostic::new(*e.code, format!("the expectation could not be computed: {}", e.message))
                        .primary(e.span.unwrap_or(*span), "failed here")
                        .note(format!("in test {:?}", test.name)),
                ),
            },
        }
    }
    TestReport { name: test.name.clone(), passed: diagnostics.is_empty(), diagnostics }
}

/// A value as indented JSON text (objects and arrays one item per line).
pub fn pretty(v: &Value) -> String {
    let mut out = String::new();
    write_pretty(v, 0, &mut out);
    out
}

fn write_pretty(v: &Value, depth: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write_pretty(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        Value::Object(fields) if !fields.is_empty() => {
            out.push_str("{\n");
            for (i, (k, item)) in fields.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                crate::encode_to(&Value::Str(k.to_string()), out);
                out.push_str(": ");
                write_pretty(item, depth + 1, out);
                out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        other => crate::encode_to(other, out),
    }
}

/// A line diff by longest common subsequence: unchanged lines with two spaces, removed with `-`,
/// added with `+`.
fn diff(left: &str, right: &str) -> String {
    let a: Vec<&str> = left.lines().collect();
    let b: Vec<&str> = right.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push(format!("+ {}", b[j]));
            j += 1;
        } else {
            out.push(format!("- {}", a[i]));
            i += 1;
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_lines() {
        assert_eq!(diff("a\nb\nc", "a\nx\nc"), "  a\n- b\n+ x\n  c");
        let v = Value::Object(vec![("a".into(), Value::Array(vec![Value::Int(1)]))]);
        assert_eq!(pretty(&v), "{\n  \"a\": [\n    1\n  ]\n}");
    }
}
