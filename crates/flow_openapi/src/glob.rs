//! `--paths GLOB`: `*` matches within one path segment, `**` across segments, `?` one character;
//! anything else matches itself (so `{id}` in a pattern matches `{id}` in the spec's path).

pub(crate) fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    // memo[i][j]: does p[i..] match s[j..]; iterative from the end, so no recursion depth.
    let mut memo = vec![vec![false; s.len() + 1]; p.len() + 1];
    memo[p.len()][s.len()] = true;
    for i in (0..p.len()).rev() {
        let double = p[i] == '*' && p.get(i + 1) == Some(&'*');
        for j in (0..=s.len()).rev() {
            memo[i][j] = if double {
                // `**` is handled at its first star; the second is skipped.
                (j..=s.len()).any(|k| memo[i + 2][k])
            } else if p[i] == '*' && i > 0 && p[i - 1] == '*' {
                memo[i + 1][j]
            } else if p[i] == '*' {
                (j..=s.len()).take_while(|&k| k == j || s[k - 1] != '/').any(|k| memo[i + 1][k])
            } else if j < s.len() && (p[i] == '?' && s[j] != '/' || p[i] == s[j]) {
                memo[i + 1][j + 1]
            } else {
                false
            };
        }
    }
    memo[0][0]
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_match_within_a_segment_and_double_stars_across() {
        assert!(matches("/v1/charges", "/v1/charges"));
        assert!(!matches("/v1/charges*", "/v1/charges/{charge}"));
        assert!(matches("/v1/charges/*", "/v1/charges/{charge}"));
        assert!(!matches("/v1/charges/*", "/v1/charges/{charge}/refunds"));
        assert!(matches("/v1/charges/**", "/v1/charges/{charge}/refunds"));
        assert!(matches("/repos/*/*/issues", "/repos/{owner}/{repo}/issues"));
        assert!(matches("**/issues", "/repos/{owner}/{repo}/issues"));
        assert!(!matches("/v1/customers", "/v1/charges"));
        assert!(matches("/v?/charges", "/v1/charges"));
    }
}
