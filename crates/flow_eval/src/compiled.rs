//! What a plan's call sites compile once, kept beside the plan rather than in it (so the plan
//! stays plain, comparable data): each regex pattern, each literal date format of
//! `format_date`, whether a lambda may borrow the array it runs over, and each table's index.
//! Built once per plan, when the plan becomes a [`Program`].

use std::collections::HashMap;
use std::ops::Deref;

use flow_plan::{EndpointCall, Step, Table, TestStep};

use crate::datefmt::{self, DateFormat};
use crate::json::ToText;
use crate::{Builtin, Expr, Plan, Value};

/// A plan ready to run: the plan, and what its call sites compile once. It reads as the plan
/// (`program.maps`, …).
#[derive(Debug)]
pub struct Program {
    plan: Plan,
    pub(crate) compiled: Compiled,
}

impl Program {
    pub fn new(plan: Plan) -> Program {
        // The compiled side table is keyed by where each call is in memory: in the plan's
        // vectors and boxes, which moving the plan into the program does not move.
        let compiled = Compiled::new(&plan);
        Program { plan, compiled }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

impl Deref for Program {
    type Target = Plan;

    fn deref(&self) -> &Plan {
        &self.plan
    }
}

/// What one built-in call site keeps of its arguments.
#[derive(Debug)]
pub(crate) enum Prepared {
    Regex(regex::Regex),
    DateFormat(DateFormat),
    /// A function with a lambda: whether the array it runs over may be lent to the lambda
    /// (the lambda does not read the variable the array is in).
    Lends(bool),
}

/// The side table of a plan: per built-in call that compiles something, what it compiled
/// (sorted by the call's address, looked up by binary search), and per table its index. A
/// call it does not know (an expression not from the plan) is worked out where it runs.
#[derive(Debug, Default)]
pub struct Compiled {
    calls: Vec<(usize, Prepared)>,
    /// Per table: key text to entry.
    tables: Vec<HashMap<String, usize>>,
}

impl Compiled {
    pub fn new(plan: &Plan) -> Compiled {
        let mut calls = Vec::new();
        each_expr(plan, &mut |e| {
            if let Some(p) = prepare(e) {
                calls.push((e as *const Expr as usize, p));
            }
        });
        calls.sort_by_key(|(at, _)| *at);
        let tables = plan.tables.iter().map(index).collect();
        Compiled { calls, tables }
    }

    /// What the call `call` compiled, if it is a call of the plan that compiles something.
    #[inline]
    pub(crate) fn call(&self, call: &Expr) -> Option<&Prepared> {
        let at = call as *const Expr as usize;
        self.calls.binary_search_by_key(&at, |(a, _)| *a).ok().map(|i| &self.calls[i].1)
    }

    /// The value of `key` in table number `number` (which is `table`), if it has one.
    pub(crate) fn look_up<'t>(&self, number: usize, table: &'t Table, key: &Value) -> Option<&'t Value> {
        let found = match self.tables.get(number) {
            Some(index) => index.get(&key.to_text()).copied(),
            None => index(table).get(&key.to_text()).copied(),
        };
        found.map(|i| &table.entries[i].1)
    }
}

fn index(table: &Table) -> HashMap<String, usize> {
    let mut m = HashMap::with_capacity(table.entries.len());
    for (i, (k, _)) in table.entries.iter().enumerate() {
        m.entry(k.to_text()).or_insert(i);
    }
    m
}

/// What the call `e` compiles once, if anything.
fn prepare(e: &Expr) -> Option<Prepared> {
    let Expr::CallBuiltin { func, args, .. } = e else { return None };
    let literal = |i: usize| match args.get(i) {
        Some(Expr::Lit { value: Value::Str(s) }) => Some(s.as_str()),
        _ => None,
    };
    match func {
        // A pattern that does not compile (a hand-edited plan) is reported where it runs.
        Builtin::Matches | Builtin::Capture | Builtin::RegexReplace => {
            regex::Regex::new(literal(1)?).ok().map(Prepared::Regex)
        }
        Builtin::FormatDate => Some(Prepared::DateFormat(datefmt::compile(literal(1)?))),
        _ => match (args.first(), args.get(1)) {
            (Some(first), Some(Expr::Lambda { body, .. })) => Some(Prepared::Lends(lends(first, body))),
            _ => None,
        },
    }
}

/// Whether the array `first` may be lent to a lambda with this body: it is read from a path
/// whose variable the lambda does not itself read.
pub(crate) fn lends(first: &Expr, body: &Expr) -> bool {
    crate::eval::root_var(first).is_some_and(|v| !body.mentions(v))
}

/// Calls `f` on every expression of the plan, sub-expressions included.
fn each_expr<'p>(plan: &'p Plan, f: &mut impl FnMut(&'p Expr)) {
    fn walk<'p>(e: &'p Expr, f: &mut impl FnMut(&'p Expr)) {
        f(e);
        e.each_child(&mut |c| walk(c, f));
    }
    fn call<'p>(c: &'p EndpointCall, f: &mut impl FnMut(&'p Expr)) {
        c.args.iter().for_each(|(_, e)| walk(e, f));
        c.body.iter().chain(&c.idempotency_key).for_each(|e| walk(e, f));
    }
    fn steps<'p>(body: &'p [Step], f: &mut impl FnMut(&'p Expr)) {
        for s in body {
            match s {
                Step::Let { value, .. } => walk(value, f),
                Step::Call { call: c, .. } => call(c, f),
                Step::For { source, filter, body, .. } => {
                    call(source, f);
                    if let Some(filter) = filter {
                        walk(&filter.expr, f);
                    }
                    steps(body, f);
                }
            }
        }
    }
    for e in &plan.endpoints {
        e.query.iter().chain(&e.headers).for_each(|(_, x)| walk(x, f));
    }
    for m in &plan.maps {
        m.lets.iter().chain(&m.fields).for_each(|(_, x)| walk(x, f));
        m.spreads.iter().for_each(|x| walk(x, f));
    }
    for func in &plan.functions {
        walk(&func.body, f);
    }
    for flow in &plan.flows {
        steps(&flow.body, f);
    }
    for t in &plan.tests {
        for s in &t.steps {
            match s {
                TestStep::Let { value, .. } => walk(value, f),
                TestStep::Expect { expr, sides, .. } => {
                    walk(expr, f);
                    if let Some((l, r)) = sides {
                        walk(l, f);
                        walk(r, f);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Key, Span};

    fn call(func: Builtin, args: Vec<Expr>) -> Expr {
        Expr::CallBuiltin { func, args, span: Span::new(0, 1) }
    }

    fn text(s: &str) -> Expr {
        Expr::Lit { value: Value::Str(s.into()) }
    }

    #[test]
    fn each_call_site_of_the_plan_is_compiled_once_and_found_by_where_it_is() {
        let x = Key::from("x");
        let item = Key::from("item");
        let var = |name: Key| Expr::Var { name };
        let plan = Plan {
            maps: vec![flow_plan::Map {
                name: "m".into(),
                params: vec![x],
                param_types: vec![],
                lets: vec![],
                spreads: vec![],
                fields: vec![
                    ("a".into(), call(Builtin::Matches, vec![var(x), text("^a+$")])),
                    ("b".into(), call(Builtin::FormatDate, vec![var(x), text("%Y")])),
                    (
                        "c".into(),
                        call(Builtin::Map, vec![var(x), Expr::Lambda { param: item, body: Box::new(var(item)) }]),
                    ),
                    ("d".into(), call(Builtin::Lower, vec![var(x)])),
                ],
                order: vec![],
                ret: None,
                span: Span::new(0, 1),
            }],
            ..Plan::default()
        };
        let program = Program::new(plan);
        let fields = &program.maps[0].fields;
        assert!(matches!(program.compiled.call(&fields[0].1), Some(Prepared::Regex(r)) if r.is_match("aaa")));
        assert!(matches!(program.compiled.call(&fields[1].1), Some(Prepared::DateFormat(_))));
        assert!(matches!(program.compiled.call(&fields[2].1), Some(Prepared::Lends(true))));
        // Nothing to compile, and a call from outside the plan: not in the table.
        assert!(program.compiled.call(&fields[3].1).is_none());
        let elsewhere = call(Builtin::Matches, vec![var(x), text("^a+$")]);
        assert!(program.compiled.call(&elsewhere).is_none());
        // The plan stays plain data: a copy compares equal and has nothing compiled in it.
        assert_eq!(program.plan().clone(), *program.plan());
    }
}
