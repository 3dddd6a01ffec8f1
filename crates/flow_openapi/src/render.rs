//! Printing the imported declarations as `.flow` text, remembering where each field's type is
//! (a *site*), so a type the checker refuses can be put back as `Json` with the reason, at that
//! place. The text is then laid out by the formatter (`flow_syntax::format`).

use std::collections::HashMap;

use flow_syntax::lex::{key, quote};

use crate::schema::{Field, Ty};

/// A place in the output whose type can be given up for `Json`: its id and byte range.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub id: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Default)]
pub(crate) struct Out {
    pub text: String,
    pub sites: Vec<Site>,
    /// Sites given up, with why: printed as `Json` and a comment.
    pub degraded: HashMap<String, String>,
    /// Degraded sites whose reason is already a comment before their field.
    commented: std::collections::HashSet<String>,
}

impl Out {
    pub(crate) fn new(degraded: HashMap<String, String>) -> Out {
        Out { degraded, ..Out::default() }
    }

    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    pub(crate) fn comment(&mut self, indent: &str, text: &str) {
        for line in text.lines() {
            self.text.push_str(indent);
            self.text.push_str("// ");
            self.text.push_str(line.trim_end());
            self.text.push('\n');
        }
    }

    /// A type at a site: as it is, or `Json` when the site was given up.
    pub(crate) fn ty(&mut self, site: &str, t: &Ty, indent: &str) {
        let start = self.text.len();
        if let Some(why) = self.degraded.get(site) {
            if !self.commented.contains(site) {
                let why = why.replace("*/", "* /");
                self.text.push_str(&format!("/* lossy: {why} */ "));
            }
            self.text.push_str(if matches!(t, Ty::Nullable(_)) { "Json?" } else { "Json" });
        } else {
            self.ty_plain(site, t, indent);
        }
        self.sites.push(Site { id: site.to_string(), start, end: self.text.len() });
    }

    fn ty_plain(&mut self, site: &str, t: &Ty, indent: &str) {
        match t {
            Ty::Named(n) => self.push(n),
            Ty::Prim(p) => self.push(p),
            Ty::Json => self.push("Json"),
            Ty::Lits(values) => {
                let parts: Vec<String> = values.iter().map(|v| quote(v)).collect();
                self.push(&parts.join(" | "));
            }
            Ty::Array(item) => {
                self.push("[");
                self.ty(&format!("{site}[]"), item, indent);
                self.push("]");
            }
            Ty::Dict(value) => {
                self.push("{ [String]: ");
                self.ty(&format!("{site}[key]"), value, indent);
                self.push(" }");
            }
            Ty::Object(fields) => self.object(site, fields, indent),
            Ty::Union(members) => {
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        self.push(" | ");
                    }
                    let paren = matches!(m, Ty::Union(_));
                    if paren {
                        self.push("(");
                    }
                    self.ty(&format!("{site}|{}", i + 1), m, indent);
                    if paren {
                        self.push(")");
                    }
                }
            }
            Ty::Nullable(inner) => {
                let paren = matches!(**inner, Ty::Union(_) | Ty::Lits(_));
                if paren {
                    self.push("(");
                }
                self.ty_plain(site, inner, indent);
                if paren {
                    self.push(")");
                }
                self.push("?");
            }
        }
    }

    /// `{ a: T, … }` with one field a line, each field's losses as comments before it.
    pub(crate) fn object(&mut self, site: &str, fields: &[Field], indent: &str) {
        self.push("{\n");
        let inner = format!("{indent}  ");
        for f in fields {
            let field_site = format!("{site}.{}", f.name);
            for loss in &f.losses {
                self.comment(&inner, &format!("lossy: {loss}"));
            }
            if let Some(why) = self.degraded.get(&field_site).cloned() {
                self.comment(&inner, &format!("lossy: {}: {why}: `Json`", f.name));
                self.commented.insert(field_site.clone());
            }
            self.push(&inner);
            self.push(&key(&f.name));
            if f.optional {
                self.push("?");
            }
            self.push(": ");
            match &f.ty {
                // Required and nullable: always present, maybe null.
                Ty::Nullable(t) if !f.optional && !self.degraded.contains_key(&field_site) => {
                    self.ty(&field_site, t, &inner);
                    self.push(" | null");
                }
                t => self.ty(&field_site, t, &inner),
            }
            self.push("\n");
        }
        self.push(indent);
        self.push("}");
    }
}
