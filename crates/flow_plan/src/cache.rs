//! A value computed on first use and kept with the plan (a compiled regex, a table's index).
//! It is not part of the plan's data: it does not serialize, and two caches always compare equal.

use std::sync::OnceLock;

pub struct Cache<T>(OnceLock<T>);

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache(OnceLock::new())
    }
}

impl<T> Cache<T> {
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(init)
    }

    pub fn get(&self) -> Option<&T> {
        self.0.get()
    }
}

impl<T> Clone for Cache<T> {
    /// A clone starts empty: the value is cheap to rebuild and may not be `Clone`.
    fn clone(&self) -> Self {
        Cache(OnceLock::new())
    }
}

impl<T> PartialEq for Cache<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Cache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cache")
    }
}
