//! Calls: how a call's arguments bind to the callee's parameters, one routine for maps,
//! functions and endpoints, and the checking of map and function calls built on it.

use flow_diagnostics::{codes, suggest, Diagnostic, Span};
use flow_plan as plan;
use flow_syntax::ast::{self, ExprKind};

use crate::checker::Signature;
use crate::expr::Expect;
use crate::names::{twice, Again};
use crate::scope::Scope;
use crate::ty::Ty;
use crate::{Checker, NameKind};

/// A parameter a call may give: its name, and whether the call must give it.
pub(crate) struct Param {
    pub name: String,
    pub required: bool,
}

/// What [`Checker::bind_args`] found.
pub(crate) struct Bound<'e> {
    /// For each parameter, the argument given for it.
    pub args: Vec<Option<&'e ast::Arg>>,
    /// Arguments that bind no parameter (reported); their values are still to be checked for
    /// the errors inside them.
    pub unbound: Vec<&'e ast::Arg>,
    /// Whether every argument bound a parameter and every required parameter was given.
    pub ok: bool,
}

/// The callee, as messages name it.
pub(crate) struct Callee<'n> {
    /// `map`, `function` or `endpoint`.
    pub kind: &'static str,
    pub name: &'n str,
    /// Positional arguments are allowed (maps, functions), or every argument is named (endpoints).
    pub positional: bool,
    /// The help for a call that does not fit: the signature, or the names the callee takes.
    pub usage: String,
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

impl Checker<'_> {
    /// Binds a call's arguments to parameters: positional ones in order, then named ones by
    /// name. Reports (E0207) a name the callee does not have, a parameter given twice (by name,
    /// or by position and then by name), a positional argument after a named one (or any
    /// positional one where every argument is named), more arguments than parameters, and the
    /// required parameters not given.
    pub(crate) fn bind_args<'e>(
        &mut self,
        callee: &Callee,
        params: &[Param],
        args: &'e [ast::Arg],
        call: Span,
    ) -> Bound<'e> {
        let who = format!("{} `{}`", callee.kind, callee.name);
        let mut bound: Vec<Option<&'e ast::Arg>> = vec![None; params.len()];
        let mut unbound = Vec::new();
        let mut ok = true;
        let mut first_named: Option<&ast::Ident> = None;
        let mut next_position = 0;
        let mut too_many: Option<&ast::Arg> = None;
        for a in args {
            let Some(name) = &a.name else {
                if !callee.positional {
                    let first_free = params.iter().zip(&bound).find(|(_, b)| b.is_none()).map(|(p, _)| p.name.as_str());
                    self.report(
                        Diagnostic::new(codes::BAD_ARGUMENTS, format!("arguments of {who} are named"))
                            .primary(a.value.span, "no name")
                            .help(format!("name it: `{}({}: …)`", callee.name, first_free.unwrap_or("…"))),
                    );
                } else if let Some(named) = first_named {
                    self.report(
                        Diagnostic::new(codes::BAD_ARGUMENTS, "a positional argument after a named one")
                            .primary(a.value.span, "positional")
                            .secondary(named.span, "named here")
                            .help("give the positional arguments first, or name this one too"),
                    );
                } else if next_position < params.len() {
                    bound[next_position] = Some(a);
                    next_position += 1;
                    continue;
                } else {
                    too_many.get_or_insert(a);
                }
                unbound.push(a);
                ok = false;
                continue;
            };
            first_named.get_or_insert(name);
            let Some(i) = params.iter().position(|p| p.name == name.name) else {
                let help = match suggest(&name.name, params.iter().map(|p| p.name.as_str())) {
                    Some(s) => flow_diagnostics::did_you_mean(name.span, s),
                    None => callee.usage.clone().into(),
                };
                self.report(
                    Diagnostic::new(codes::BAD_ARGUMENTS, format!("{who} has no parameter `{}`", name.name))
                        .primary(name.span, "unknown parameter")
                        .help(help),
                );
                unbound.push(a);
                ok = false;
                continue;
            };
            if let Some(first) = bound[i] {
                let (first_span, how) = match &first.name {
                    Some(n) => (n.span, "first given here"),
                    None => (first.value.span, "first given here, by position"),
                };
                let what = format!("parameter `{}` of {who}", name.name);
                let d = crate::names::twice_as(
                    codes::BAD_ARGUMENTS,
                    &what,
                    "given",
                    name.span,
                    None,
                    "give each parameter once",
                );
                self.report(d.secondary(first_span, how));
                unbound.push(a);
                ok = false;
                continue;
            }
            bound[i] = Some(a);
        }
        if let Some(extra) = too_many {
            self.report(
                Diagnostic::new(
                    codes::BAD_ARGUMENTS,
                    format!("{who} takes {}, {} given", plural(params.len(), "argument"), args.len()),
                )
                .primary(extra.value.span, "no parameter left for this one")
                .help(callee.usage.clone()),
            );
        }
        let missing: Vec<&str> = params
            .iter()
            .zip(&bound)
            .filter(|(p, b)| p.required && b.is_none())
            .map(|(p, _)| p.name.as_str())
            .collect();
        // One mistake, one error: an argument that bound nothing was probably meant for a
        // parameter that is missing, so the missing ones are reported only when all bound.
        if !missing.is_empty() && ok {
            let listed = |f: &dyn Fn(&str) -> String| missing.iter().map(|m| f(m)).collect::<Vec<_>>().join(", ");
            self.report(
                Diagnostic::new(
                    codes::BAD_ARGUMENTS,
                    format!("call of `{}` misses {}", callee.name, listed(&|m| format!("`{m}`"))),
                )
                .primary(call, "not given")
                .help(format!("add {}", listed(&|m| format!("`{m}: …`")))),
            );
        }
        ok &= missing.is_empty();
        Bound { args: bound, unbound, ok }
    }

    /// The arguments of a map or function call, bound to its parameters and each checked against
    /// its parameter's type, in parameter order; `None` when the call does not fit (reported).
    fn checked_args(
        &mut self,
        kind: &'static str,
        callee: &ast::Ident,
        params: &[(String, Ty)],
        args: &[ast::Arg],
        call: Span,
        scope: &mut Scope,
    ) -> Option<Vec<plan::Expr>> {
        let usage = format!("call it as `{}`", self.signature(&callee.name, params));
        let spec: Vec<Param> = params.iter().map(|(n, _)| Param { name: n.clone(), required: true }).collect();
        let who = Callee { kind, name: &callee.name, positional: true, usage };
        let bound = self.bind_args(&who, &spec, args, call);
        let mut out = Vec::with_capacity(params.len());
        for ((pname, pty), a) in params.iter().zip(&bound.args) {
            if let Some(a) = a {
                let what = format!("parameter `{pname}` of `{}`", callee.name);
                out.push(self.check_against(&a.value, &Expect { ty: pty.clone(), origin: None, what }, scope));
            }
        }
        for a in bound.unbound {
            if !matches!(a.value.kind, ExprKind::Lambda { .. }) {
                self.infer(&a.value, scope);
            }
        }
        bound.ok.then_some(out)
    }

    /// `name(p: T, …)`, for the help of a call with wrong arguments.
    pub(crate) fn signature(&self, name: &str, params: &[(String, Ty)]) -> String {
        let params: Vec<String> = params.iter().map(|(n, t)| format!("{n}: {}", self.types.display(t))).collect();
        format!("{name}({})", params.join(", "))
    }

    /// A call of a declared map or function: marked used, recorded in the call graph (for the
    /// cycle check), its named arguments recorded as uses of the parameters they name (so a
    /// rename of `o` in `map to_contact(o: …)` reaches `to_contact(o: …)`), and its arguments
    /// bound and checked.
    pub(crate) fn declared_call(
        &mut self,
        e: &ast::Expr,
        kind: NameKind,
        index: usize,
        callee: &ast::Ident,
        args: &[ast::Arg],
        scope: &mut Scope,
    ) -> (Ty, plan::Expr) {
        self.names.mark_used(kind, index);
        let is_map = kind == NameKind::Map;
        let (sig, declared) = if is_map {
            (self.decls.maps.sig(index), self.decls.maps.rows.get(index).map(|r| &r.decl.params))
        } else {
            (self.decls.functions.sig(index), self.decls.functions.rows.get(index).map(|r| &r.decl.params))
        };
        self.calls.record(kind, index, e.span);
        let Some(Signature { params, ret }) = sig else {
            return (Ty::Error, plan::Expr::Lit { value: plan::Value::Null });
        };
        let param_spans: Vec<(Span, Span)> = args
            .iter()
            .filter_map(|a| a.name.as_ref())
            .filter_map(|n| declared?.iter().find(|p| p.name.name == n.name).map(|p| (p.name.span, n.span)))
            .collect();
        for (decl, at) in param_spans {
            self.note_local_use(decl, at);
        }
        let what = if is_map { "map" } else { "function" };
        match self.checked_args(what, callee, &params, args, e.span, scope) {
            Some(args) if is_map => (ret, plan::Expr::CallMap { map: index, args, span: e.span }),
            Some(args) => (ret, plan::Expr::CallFunction { func: index, args, span: e.span }),
            None => (ret, plan::Expr::Lit { value: plan::Value::Null }),
        }
    }

    /// The parameters of a map or function, resolved; a name given twice is E0101.
    pub(crate) fn signature_params(&mut self, params: &[ast::Param]) -> Vec<(String, Ty)> {
        let mut out: Vec<(String, Ty)> = Vec::new();
        for p in params {
            let ty = self.type_expr(&p.ty);
            if out.iter().any(|(n, _)| *n == p.name.name) {
                self.report(twice(
                    Again::Declared,
                    &format!("parameter `{}`", p.name.name),
                    p.name.span,
                    None,
                    "rename one of them",
                ));
            }
            out.push((p.name.name.clone(), ty));
        }
        out
    }

    /// Reports each cycle in a call graph once, at the call that closes it, unless one of its
    /// declarations takes recursive data (`over_data`, `recursion.rs`). The search runs over the
    /// declarations that do not: a cycle among them is exactly a cycle with no declaration over
    /// recursive data (one that shares calls with an allowed cycle is found too). Iterative, so
    /// a long chain of calls cannot overflow the stack.
    pub(crate) fn report_cycles(
        &mut self,
        graph: &[Vec<(usize, Span)>],
        names: &[String],
        what: &str,
        over_data: &[bool],
    ) {
        let n = graph.len();
        let mut colour = vec![0u8; n];
        let allowed = |node: usize| over_data.get(node).copied().unwrap_or(false);
        for start in 0..n {
            if colour[start] != 0 || allowed(start) {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = 1;
            while let Some((node, edge)) = stack.last().copied() {
                if let Some(&(next, span)) = graph[node].get(edge) {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    if allowed(next) {
                        continue;
                    }
                    match colour.get(next) {
                        Some(0) => {
                            colour[next] = 1;
                            stack.push((next, 0));
                        }
                        Some(1) => {
                            let (caller, callee) = (&names[node], &names[next]);
                            let msg = if caller == callee {
                                format!("{what} `{caller}` calls itself")
                            } else {
                                format!("{what}s `{callee}` and `{caller}` call each other in a cycle")
                            };
                            self.report(
                                Diagnostic::new(codes::MAP_CYCLE, msg)
                                    .primary(span, "this call closes the cycle")
                                    .help(format!(
                                        "{what}s recurse only over recursive data (a parameter of a type such as `type Node {{ children: [Node] }}`): restructure them so none calls back into its callers"
                                    )),
                            );
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = 2;
                    stack.pop();
                }
            }
        }
    }
}
