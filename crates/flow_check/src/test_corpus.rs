//! What the tests that compare an incremental result with a fresh check share: a deterministic
//! generator of edits, and the `.flow` files of the repository to edit.

/// A small deterministic generator (xorshift64*), so the edits are the same on every run.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// The UTF-8 `.flow` files of examples/ and the corpus' ok, err and syntax folders, by path.
pub(crate) fn sources() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut paths = Vec::new();
    for dir in ["examples", "tests/data/ok", "tests/data/err", "tests/data/syntax"] {
        let entries = std::fs::read_dir(root.join(dir)).expect("the corpus is in the repository");
        paths.extend(
            entries
                .map(|e| e.expect("a directory entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "flow")),
        );
    }
    paths.sort();
    // Not every syntax case is UTF-8 text; those are not edited here.
    paths.iter().filter_map(|p| String::from_utf8(std::fs::read(p).expect("a .flow file")).ok()).collect()
}
