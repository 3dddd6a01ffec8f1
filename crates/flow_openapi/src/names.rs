//! Names in `.flow` for names in a spec: types in PascalCase, endpoints, apis and parameters in
//! snake_case, secrets in upper case; each unique in the file and never a reserved word or a
//! built-in type's name.

use std::collections::HashSet;

/// Words the grammar reserves in expressions (so never a parameter's or a declaration's name).
const RESERVED: [&str; 12] =
    ["if", "then", "else", "true", "false", "null", "let", "for", "in", "where", "match", "catch"];
/// The built-in types' names, never a declared type's.
const BUILTIN_TYPES: [&str; 8] = ["String", "Int", "Float", "Decimal", "Bool", "Date", "DateTime", "Json"];

/// The words of a name: split at anything that is no letter or digit, and where a lower-case
/// letter or digit is followed by an upper-case one (`listForOrg` → list, for, org).
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `account_business_profile` → `AccountBusinessProfile`, `issue-comment` → `IssueComment`.
pub(crate) fn pascal(name: &str) -> String {
    let mut out = String::new();
    for w in words(name) {
        let mut cs = w.chars();
        if let Some(first) = cs.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(cs.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// `repos/list-for-org` → `repos_list_for_org`, `GetCharges` → `get_charges`.
pub(crate) fn snake(name: &str) -> String {
    let mut out = words(name).iter().map(|w| w.to_ascii_lowercase()).collect::<Vec<_>>().join("_");
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if RESERVED.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// The names given so far in one namespace; each new one is made unique with a number.
#[derive(Default)]
pub(crate) struct Names {
    taken: HashSet<String>,
}

impl Names {
    pub(crate) fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    /// `base`, or `base_2`, `base_3`, … (types: `Base2`) — whichever is free first.
    pub(crate) fn unique(&mut self, base: &str) -> String {
        let is_type = base.starts_with(|c: char| c.is_ascii_uppercase());
        let mut base = base.to_string();
        if is_type && BUILTIN_TYPES.contains(&base.as_str()) {
            base.push_str("Schema");
        }
        let mut candidate = base.clone();
        let mut n = 2;
        while self.taken.contains(&candidate) {
            candidate = if is_type { format!("{base}{n}") } else { format!("{base}_{n}") };
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_and_snake_names() {
        assert_eq!(pascal("account_business_profile"), "AccountBusinessProfile");
        assert_eq!(pascal("issue-comment"), "IssueComment");
        assert_eq!(pascal("objc.message"), "ObjcMessage");
        assert_eq!(pascal("3d_secure"), "T3dSecure");
        assert_eq!(snake("repos/list-for-org"), "repos_list_for_org");
        assert_eq!(snake("GetCharges"), "get_charges");
        assert_eq!(snake("in"), "in_");
        assert_eq!(snake("per-page"), "per_page");
    }

    #[test]
    fn unique_names_avoid_builtins_and_each_other() {
        let mut n = Names::default();
        assert_eq!(n.unique("Date"), "DateSchema");
        assert_eq!(n.unique("Card"), "Card");
        assert_eq!(n.unique("Card"), "Card2");
        assert_eq!(n.unique("list"), "list");
        assert_eq!(n.unique("list"), "list_2");
    }
}
