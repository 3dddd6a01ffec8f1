//! Errors inside a 2xx answer (Slack's `{"ok": false, "error": "ratelimited"}` with status 200):
//! an api or an endpoint declares when an answer is an error (`error_when`), its message
//! (`error_message`) and which such errors are transient, retried (`error_transient`), each an
//! expression over `response`. They are checked against each endpoint's response type: an error
//! answer seldom carries the fields of a good one, so `response` is the response type with every
//! top-level field possibly absent (`T?`). The plan keeps the fields they read, which is all of
//! an answer decoded to judge it.

use std::rc::Rc;

use flow_diagnostics::{codes, Diagnostic};
use flow_plan::{self as plan};
use flow_syntax::ast::{self, ExprKind};

use crate::scope::Scope;
use crate::ty::{plan_type, FieldTy, Ty};
use crate::Checker;

/// The settings, on an api (for all its endpoints) or an endpoint (over its api's).
pub(crate) const SETTINGS: [&str; 3] = ["error_when", "error_message", "error_transient"];

impl Checker<'_> {
    /// The endpoint's errors inside a 2xx answer: its own settings, or else its api's; `None`
    /// when neither declares `error_when`, or when they do not fit (reported).
    pub(crate) fn answer_errors(&mut self, d: &ast::EndpointDecl, response: Option<&Ty>) -> Option<plan::AnswerErrors> {
        let own: Vec<&ast::Property> = d.props.iter().filter(|p| SETTINGS.contains(&p.name.name.as_str())).collect();
        let from_api = own.is_empty();
        let props: Vec<ast::Property> = if from_api {
            let api = self.decls.apis.decls().find(|a| a.name.name == d.api.name)?;
            api.props.iter().filter(|p| SETTINGS.contains(&p.name.name.as_str())).cloned().collect()
        } else {
            own.into_iter().cloned().collect()
        };
        if props.is_empty() {
            return None;
        }
        // An api's settings are checked once per endpoint: one mistake is reported once.
        let before = self.diagnostics.len();
        let out = self.answer_errors_of(d, &props, response, from_api);
        let (old, new) = self.diagnostics.split_at(before);
        let fresh: Vec<Diagnostic> = new.iter().filter(|n| !old.contains(n)).cloned().collect();
        self.diagnostics.truncate(before);
        self.diagnostics.extend(fresh);
        out
    }

    fn answer_errors_of(
        &mut self,
        d: &ast::EndpointDecl,
        props: &[ast::Property],
        response: Option<&Ty>,
        from_api: bool,
    ) -> Option<plan::AnswerErrors> {
        let find = |name: &str| props.iter().find(|p| p.name.name == name);
        let Some(when) = find("error_when") else {
            for p in props {
                self.report(
                    Diagnostic::new(codes::ANSWER_ERROR_ALONE, format!("`{}` without `error_when`", p.name.name))
                        .primary(p.name.span, "never used: nothing says when an answer is an error")
                        .help("say when an answer is an error beside it: `error_when = response.ok == false`"),
                );
            }
            return None;
        };
        let response = match response {
            Some(r) => r,
            // An api's settings judge the endpoints that read their answers.
            None if from_api => return None,
            None => {
                self.report(
                    Diagnostic::new(
                        codes::ANSWER_ERROR_WHEN,
                        "`error_when` reads the answer, but the endpoint declares no response type",
                    )
                    .primary(when.value.span, "no response type to read")
                    .help("declare the response after the path: `-> { ok: Bool, error: String? }`"),
                );
                return None;
            }
        };
        let Ty::Object(fields) = self.types.resolve(response).clone() else {
            let shown = self.types.display(response);
            self.report(
                Diagnostic::new(codes::ANSWER_ERROR_WHEN, format!("`error_when` reads an object answer, and `{}` answers `{shown}`", d.name.name))
                    .primary(when.value.span, "the answer has no fields to tell an error by")
                    .secondary(d.span, format!("endpoint `{}` is declared here", d.name.name))
                    .help("an answer that says it is an error is an object (`{ ok: Bool, error: String? }`); declare the error settings on the endpoints whose answers are"),
            );
            return None;
        };
        // Every top-level field may be absent in an error answer.
        let view: Vec<FieldTy> = fields
            .iter()
            .map(|f| FieldTy {
                name: f.name.clone(),
                ty: if matches!(f.ty, Ty::Nullable(_)) { f.ty.clone() } else { Ty::Nullable(Rc::new(f.ty.clone())) },
                optional: true,
                present: false,
            })
            .collect();
        let view: Rc<[FieldTy]> = view.into();
        // For editors: a field read through the view is the response type's field.
        let owner = self.named_index(response);
        let names = view
            .iter()
            .filter_map(|f| {
                let decl = match owner {
                    Some(i) => self.fields.name_span(i, &f.name),
                    None => self.fields.inline_name_span(&fields, &f.name),
                };
                decl.map(|d| (f.name.clone(), d))
            })
            .collect();
        self.fields.declare_inline(&view, names);
        let view_ty = Ty::Object(view.clone());
        let errors = self.error_count();
        let typed = |this: &mut Self, p: &ast::Property| {
            let mut scope = Scope::default();
            scope.push("response", view_ty.clone(), p.value.span, false);
            let out = this.infer(&p.value, &mut scope);
            // `response` is declared nowhere: its uses are no uses of a declaration.
            this.info.name_uses.retain(|(_, decl)| *decl != p.value.span);
            out
        };
        let (when_ty, when_expr) = typed(self, when);
        if !matches!(self.types.resolve(&when_ty), Ty::Bool | Ty::Error) {
            let shown = self.types.display(&when_ty);
            self.report(
                Diagnostic::new(codes::ANSWER_ERROR_WHEN, format!("`error_when` must be a Bool, and this is `{shown}`"))
                    .primary(when.value.span, "not true or false")
                    .help("compare the field that tells an error: `error_when = response.ok == false`; a field that may be absent needs `??`: `response.failed ?? false`"),
            );
        }
        let message = match find("error_message") {
            None => None,
            Some(p) => {
                let (ty, expr) = typed(self, p);
                if !self.types.is_stringy(&self.types.non_null(&ty)) {
                    let shown = self.types.display(&ty);
                    self.report(
                        Diagnostic::new(codes::ANSWER_ERROR_MESSAGE, format!("`error_message` must be text, and this is `{shown}`"))
                            .primary(p.value.span, "not a String")
                            .help("point it at the field with the error's text (`response.error`), or make text of it with `str(…)`"),
                    );
                }
                Some(expr)
            }
        };
        let transient = match find("error_transient") {
            None => None,
            Some(p) => {
                let (ty, expr) = typed(self, p);
                if !matches!(self.types.resolve(&ty), Ty::Bool | Ty::Error) {
                    let shown = self.types.display(&ty);
                    self.report(
                        Diagnostic::new(
                            codes::ANSWER_ERROR_TRANSIENT,
                            format!("`error_transient` must be a Bool, and this is `{shown}`"),
                        )
                        .primary(p.value.span, "not true or false")
                        .help("say which errors pass with time: `error_transient = response.error == \"ratelimited\"`"),
                    );
                }
                Some(expr)
            }
        };
        if self.error_count() > errors {
            return None;
        }
        // What is decoded of an answer to judge it: the top-level fields the settings read.
        let read: Vec<&str> = props.iter().flat_map(|p| top_fields(&p.value)).collect();
        let decoded: Vec<FieldTy> = view.iter().filter(|f| read.contains(&f.name.as_str())).cloned().collect();
        Some(plan::AnswerErrors {
            view: plan_type(&Ty::Object(decoded.into())),
            when: when_expr,
            message,
            transient,
            span: when.span,
        })
    }
}

/// The names of `response.NAME` (and `response?.NAME`) read in an expression.
fn top_fields(e: &ast::Expr) -> Vec<&str> {
    let mut out = Vec::new();
    fn walk<'e>(e: &'e ast::Expr, out: &mut Vec<&'e str>) {
        match &e.kind {
            ExprKind::Field { base, name, .. } => {
                if matches!(&base.kind, ExprKind::Name(id) if id.name == "response") {
                    out.push(name.name.as_str());
                }
                walk(base, out);
            }
            ExprKind::Index { base, index } => {
                walk(base, out);
                walk(index, out);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|a| walk(&a.value, out)),
            ExprKind::Unary { expr, .. } => walk(expr, out),
            ExprKind::Binary { lhs, rhs, .. } => {
                walk(lhs, out);
                walk(rhs, out);
            }
            ExprKind::If { cond, then, otherwise } => {
                walk(cond, out);
                walk(then, out);
                walk(otherwise, out);
            }
            ExprKind::Lambda { body, .. } => walk(body, out),
            ExprKind::Catch { expr, default } => {
                walk(expr, out);
                walk(default, out);
            }
            ExprKind::Match { scrutinee, arms } => {
                walk(scrutinee, out);
                arms.iter().for_each(|a| walk(&a.body, out));
            }
            ExprKind::Object(items) => items.iter().for_each(|i| match i {
                ast::ObjectItem::Field(f) => walk(&f.value, out),
                ast::ObjectItem::Spread(x) => walk(x, out),
            }),
            ExprKind::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(e, &mut out);
    out
}
