//! Secret values: held in `SecretString` (no Debug or Display that shows them), exposed only when
//! a request's auth or headers are built, and scrubbed from any text that leaves the runtime.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};

/// Secret values by name, and credentials obtained during a run (OAuth2 tokens).
#[derive(Default)]
pub struct Secrets {
    values: HashMap<String, SecretString>,
    /// Obtained during the run: scrubbed from output like the declared ones.
    obtained: std::sync::RwLock<Vec<(String, SecretString)>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_struct("Secrets").field("names", &names).finish()
    }
}

impl Secrets {
    pub fn new() -> Secrets {
        Secrets::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, value: SecretString) {
        self.values.insert(name.into(), value);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub(crate) fn expose(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|s| s.expose_secret())
    }

    /// Registers a credential obtained during the run, so output is scrubbed of it too.
    pub(crate) fn obtained(&self, what: &str, value: &str) {
        if let Ok(mut list) = self.obtained.write() {
            list.push((what.to_string(), SecretString::from(value.to_string())));
        }
    }

    /// `text` with every secret value replaced by `[secret NAME]`. Applied to every message,
    /// response excerpt and dead letter the runtime produces: an API that echoes a token back in
    /// an error body must not get it printed.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let obtained = self
            .obtained
            .read()
            .map(|l| l.iter().map(|(n, v)| (n.clone(), v.clone())).collect::<Vec<_>>())
            .unwrap_or_default();
        for (name, value) in self.values.iter().map(|(n, v)| (n.clone(), v.clone())).chain(obtained) {
            let v = value.expose_secret();
            // Very short values would redact ordinary text; they are also not worth stealing.
            if v.len() >= 4 && out.contains(v) {
                out = out.replace(v, &format!("[secret {name}]"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_values_and_never_debug_prints_them() {
        let mut s = Secrets::new();
        s.insert("TOKEN", SecretString::from("canary-12345"));
        assert_eq!(s.redact("bad token canary-12345!"), "bad token [secret TOKEN]!");
        assert!(!format!("{s:?}").contains("canary"));
    }
}
