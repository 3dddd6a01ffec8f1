//! "Did you mean": what a name that resolves to nothing was meant to be.
//!
//! Every name of every kind is a candidate (locals, the fields of locals, literals, built-ins,
//! maps, functions, endpoints, tables, types, apis, secrets, flows), each marked with whether its
//! kind is valid where the name is written (`fits`). The choice is, in order:
//!
//! 1. another language's name of a candidate that fits (`toString` → `str`, `nil` → `null`:
//!    [`synonym`]);
//! 2. the closest candidate whose kind fits, then the closest of any kind: closeness is
//!    the same word in another case style (`startsWith`, `starts_with`), else Jaro-Winkler, or
//!    one edit away (two in long names: `cmr`, `crm`), ties going to the nearer kind (a local
//!    before a field, a map before a built-in).
//!
//! A candidate that fits comes with its fix (its text written over the misspelling); one that
//! does not fit is named without a fix, with what kind it is. What was meant is marked used, so
//! that it is not also "never used" (one diagnostic per root cause).

use flow_diagnostics::{edits, similarity, Fix, Help, Span};

use crate::scope::Scope;
use crate::ty::Ty;
use crate::{Checker, NameKind};

/// What a candidate is; the order is the order of preference between equally close names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Sort {
    Local,
    Field,
    Literal,
    Map,
    Function,
    Endpoint,
    Table,
    Builtin,
    Type,
    BuiltinType,
    Api,
    Secret,
    Flow,
}

impl Sort {
    pub(crate) fn of(kind: NameKind) -> Sort {
        match kind {
            NameKind::Secret => Sort::Secret,
            NameKind::Api => Sort::Api,
            NameKind::Type => Sort::Type,
            NameKind::Endpoint => Sort::Endpoint,
            NameKind::Map => Sort::Map,
            NameKind::Flow => Sort::Flow,
            NameKind::Table => Sort::Table,
            NameKind::Function => Sort::Function,
            NameKind::Param | NameKind::Let | NameKind::LoopVar | NameKind::LambdaParam | NameKind::State => {
                Sort::Local
            }
        }
    }

    /// "an endpoint", for a candidate named where its kind does not fit.
    fn a_word(self) -> &'static str {
        match self {
            Sort::Local => "a local name",
            Sort::Field => "a field",
            Sort::Literal => "a literal",
            Sort::Map => "a map",
            Sort::Function => "a function",
            Sort::Endpoint => "an endpoint",
            Sort::Table => "a table",
            Sort::Builtin => "a built-in function",
            Sort::Type | Sort::BuiltinType => "a type",
            Sort::Api => "an api",
            Sort::Secret => "a secret",
            Sort::Flow => "a flow",
        }
    }
}

/// One name the misspelling may have meant.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// The name compared with the misspelling (a field's own name, for `o.name`).
    pub name: String,
    /// What the fix writes (`o.name` for a field of the local `o`).
    pub text: String,
    pub sort: Sort,
    /// Whether its kind is valid where the misspelling is written.
    pub fits: bool,
}

impl Candidate {
    pub(crate) fn new(name: &str, sort: Sort, fits: bool) -> Candidate {
        Candidate { name: name.to_string(), text: name.to_string(), sort, fits }
    }
}

/// Which kinds fit at a position, for [`Checker::global_candidates`].
pub(crate) type Fits = fn(Sort) -> bool;

/// Other languages' names of flow's built-ins and literals, by their squashed form (lower case,
/// no `_`): `toString`, `to_string` and `tostring` are one key.
const SYNONYMS: &[(&[&str], &str)] = &[
    (&["tostring", "string", "tostr", "stringify", "asstring", "strval", "tostringvalue"], "str"),
    (&["lowercase", "tolowercase", "tolower", "downcase", "lowercased", "casefold", "lc"], "lower"),
    (&["uppercase", "touppercase", "toupper", "upcase", "uppercased", "uc"], "upper"),
    (&["length", "size", "strlen", "sizeof", "lengthof", "getlength", "getsize"], "len"),
    (&["strip", "trimspace", "trimwhitespace", "chomp"], "trim"),
    (&["includes", "has", "contain", "hassubstring"], "contains"),
    (&["hasprefix", "beginswith"], "starts_with"),
    (&["hassuffix"], "ends_with"),
    (&["substr", "slice", "mid"], "substring"),
    (&["explode"], "split"),
    (&["implode"], "join"),
    (&["replaceall", "strreplace"], "replace"),
    (&["gsub", "resub", "pregreplace"], "regex_replace"),
    (&["regexmatch", "ismatch", "rematch", "test"], "matches"),
    (&["padstart", "lpad", "rjust"], "pad_left"),
    (&["padend", "rpad", "ljust"], "pad_right"),
    (&["sprintf", "printf", "fmt"], "format"),
    (&["toint", "integer", "tointeger", "asint"], "int"),
    (&["tofloat", "todouble", "double"], "float"),
    (&["todecimal", "dec", "bigdecimal", "numeric"], "decimal"),
    (&["unique", "uniq", "dedupe", "dedup"], "distinct"),
    (&["sort", "sorted", "orderby"], "sort_by"),
    (&["concat", "flat"], "flatten"),
    (&["head"], "first"),
    (&["some", "exists"], "any"),
    (&["every"], "all"),
    (&["detect", "findfirst"], "find"),
    (&["items", "toentries", "pairs"], "entries"),
    (&["todict", "fromobject", "dict"], "from_entries"),
    (&["raise", "throw", "error", "panic", "abort"], "fail"),
    (&["strftime", "dateformat"], "format_date"),
    (&["strptime"], "parse_datetime"),
    (&["ceiling"], "ceil"),
    (&["absolute"], "abs"),
    (&["datediff"], "days_between"),
    (&["nil", "none", "undefined", "nul", "nothing"], "null"),
];

/// flow's name for another language's (`toString` → `str`, `nil` → `null`).
pub(crate) fn synonym(wrong: &str) -> Option<&'static str> {
    let key = squash(wrong);
    SYNONYMS.iter().find(|(theirs, _)| theirs.contains(&key.as_str())).map(|(_, ours)| *ours)
}

/// A name in lower case without `_`, so that `toLowerCase` and `to_lower_case` are one word.
fn squash(name: &str) -> String {
    name.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect()
}

/// How close `wrong` is to `name`: the same word in another case style (`startsWith`,
/// `starts_with`) is as close as can be; then Jaro-Winkler; a name one edit
/// away (two for long names) counts as close even where Jaro-Winkler does not say so (`cmr`,
/// `crm`: a swap in a short name).
fn closeness(wrong: &str, name: &str) -> f64 {
    if squash(wrong) == squash(name) {
        return 1.0;
    }
    let score = similarity(wrong, name);
    let len = wrong.chars().count().min(name.chars().count());
    let few_edits = match edits(wrong, name) {
        1 => len >= 3,
        2 => len >= 6,
        _ => false,
    };
    if few_edits {
        score.max(0.81)
    } else {
        score
    }
}

/// The candidate `wrong` most likely meant, by the rules of the module's documentation.
pub(crate) fn choose<'c>(wrong: &str, candidates: &'c [Candidate]) -> Option<&'c Candidate> {
    if let Some(ours) = synonym(wrong) {
        if let Some(c) = candidates.iter().find(|c| c.fits && c.name == ours) {
            return Some(c);
        }
    }
    let mut best: Option<(bool, f64, &Candidate)> = None;
    for c in candidates {
        if c.name == wrong {
            continue;
        }
        let score = closeness(wrong, &c.name);
        if score <= 0.8 {
            continue;
        }
        let better = match best {
            None => true,
            Some((fits, s, b)) => (c.fits, score, std::cmp::Reverse(c.sort)) > (fits, s, std::cmp::Reverse(b.sort)),
        };
        if better {
            best = Some((c.fits, score, c));
        }
    }
    best.map(|(_, _, c)| c)
}

impl Checker<'_> {
    /// Every declared name, each fitting where `fits` says its kind does.
    pub(crate) fn global_candidates(&self, fits: impl Fn(Sort) -> bool) -> Vec<Candidate> {
        let mut out = Vec::new();
        for kind in [
            NameKind::Secret,
            NameKind::Api,
            NameKind::Type,
            NameKind::Endpoint,
            NameKind::Map,
            NameKind::Flow,
            NameKind::Table,
            NameKind::Function,
        ] {
            let sort = Sort::of(kind);
            out.extend(self.names.of_kind(kind).map(|n| Candidate::new(n, sort, fits(sort))));
        }
        // Sorted, so that equally close names are chosen the same way on every run.
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The built-in functions, fitting where `fits` says.
    pub(crate) fn builtin_candidates(fits: impl Fn(Sort) -> bool) -> impl Iterator<Item = Candidate> {
        let fit = fits(Sort::Builtin);
        flow_plan::Builtin::ALL.iter().map(move |b| Candidate::new(b.name(), Sort::Builtin, fit))
    }

    /// The locals in scope and the fields of those that are objects (`o.name`), all fitting where
    /// a value is written; a field name two locals have is left out (the fix could not choose).
    pub(crate) fn local_candidates(&self, scope: &Scope) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = Vec::new();
        let mut fields: Vec<Candidate> = Vec::new();
        let mut seen_twice: Vec<String> = Vec::new();
        for (name, ty) in scope.visible() {
            if out.iter().any(|c| c.name == name) {
                continue;
            }
            out.push(Candidate::new(name, Sort::Local, true));
            if let Ty::Object(fs) = self.types.resolve(ty) {
                for f in fs.iter() {
                    if fields.iter().any(|c| c.name == f.name) {
                        seen_twice.push(f.name.clone());
                        continue;
                    }
                    fields.push(Candidate {
                        name: f.name.clone(),
                        text: format!("{name}.{}", flow_syntax::lex::key(&f.name)),
                        sort: Sort::Field,
                        fits: true,
                    });
                }
            }
        }
        fields.retain(|c| !seen_twice.contains(&c.name) && !out.iter().any(|l| l.name == c.name));
        out.extend(fields);
        out
    }

    /// The help for `wrong` at `span`, among `candidates`: "did you mean `x`?" with its fix, "`x`
    /// is close, but it is an endpoint, …", or `nothing` when no name is close. What was meant
    /// is marked used (a local in `scope`, a declaration in the namespace).
    pub(crate) fn meant_help(
        &mut self,
        wrong: &str,
        span: Span,
        candidates: &[Candidate],
        scope: Option<&mut Scope>,
        nothing: impl FnOnce() -> String,
    ) -> Help {
        let Some(c) = choose(wrong, candidates) else {
            return nothing().into();
        };
        match c.sort {
            Sort::Local | Sort::Field => {
                let local = c.text.split('.').next().unwrap_or(&c.text);
                if let Some(scope) = scope {
                    scope.lookup(local);
                }
            }
            _ => {
                if let Some(r) = self.names.get(&c.name) {
                    self.names.mark_used(r.kind, r.index);
                }
            }
        }
        if !c.fits {
            return format!("`{}` is close, but it is {}, which cannot be used here", c.text, c.sort.a_word()).into();
        }
        match c.sort {
            Sort::Literal => Help::from(format!("flow writes this `{}`", c.text)).with_fix(Fix::replace(span, &c.text)),
            Sort::Field => {
                Help::from(format!("did you mean the field `{}`?", c.text)).with_fix(Fix::replace(span, &c.text))
            }
            _ => flow_diagnostics::did_you_mean(span, &c.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, sort: Sort, fits: bool) -> Candidate {
        Candidate::new(name, sort, fits)
    }

    #[test]
    fn another_languages_name_finds_ours_before_any_close_name() {
        let cands = [c("to_entry", Sort::Map, true), c("str", Sort::Builtin, true), c("lower", Sort::Builtin, true)];
        assert_eq!(choose("to_string", &cands).map(|c| c.name.as_str()), Some("str"));
        assert_eq!(choose("toString", &cands).map(|c| c.name.as_str()), Some("str"));
        assert_eq!(choose("toLowerCase", &cands).map(|c| c.name.as_str()), Some("lower"));
        assert_eq!(choose("to_lowercase", &cands).map(|c| c.name.as_str()), Some("lower"));
    }

    #[test]
    fn a_kind_that_fits_comes_before_a_closer_one_that_does_not() {
        let cands = [c("orders", Sort::Type, false), c("orderz", Sort::Endpoint, true)];
        assert_eq!(choose("ordrs", &cands).map(|c| c.name.as_str()), Some("orderz"));
        assert_eq!(choose("cmr", &[c("crm", Sort::Api, true)]).map(|c| c.name.as_str()), Some("crm"));
        let only_wrong = [c("orders", Sort::Type, false)];
        assert_eq!(choose("ordrs", &only_wrong).map(|c| (c.name.as_str(), c.fits)), Some(("orders", false)));
    }

    #[test]
    fn camel_case_is_as_close_as_snake_case() {
        let cands = [c("starts_with", Sort::Builtin, true), c("ends_with", Sort::Builtin, true)];
        assert_eq!(choose("startsWith", &cands).map(|c| c.name.as_str()), Some("starts_with"));
        assert_eq!(choose("zzz", &cands).map(|c| c.name.as_str()), None);
        let builtins: Vec<Candidate> =
            flow_plan::Builtin::ALL.iter().map(|b| c(b.name(), Sort::Builtin, true)).collect();
        assert_eq!(choose("frobnicate", &builtins).map(|c| c.name.as_str()), None, "nothing is close");
    }

    #[test]
    fn every_synonym_names_a_builtin_or_a_literal() {
        for (theirs, ours) in SYNONYMS {
            assert!(*ours == "null" || flow_plan::Builtin::from_name(ours).is_some(), "{ours} is not a built-in");
            for t in *theirs {
                assert_eq!(synonym(t), Some(*ours), "{t} is squashed already");
                assert!(flow_plan::Builtin::from_name(t).is_none(), "{t} is a built-in of its own");
            }
        }
        assert_eq!(synonym("toUpperCase"), Some("upper"));
        assert_eq!(synonym("None"), Some("null"));
    }
}
