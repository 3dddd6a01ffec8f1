//! Secret values: held in `SecretString` (no Debug or Display that shows them), exposed only when
//! a request's auth or headers are built, and scrubbed from any text that leaves the runtime.
//!
//! Redaction finds a secret in the forms it travels in — as is, JSON-escaped (`\"`, `\/`,
//! `\u00e9`, surrogate pairs), percent-encoded (either case of hex, `+` for a space), or any mix
//! of these, one character at a time — and replaces each whole occurrence with `[secret NAME]`.
//! Whole means: where the secret begins with a letter, digit or `_`, the character before it is
//! none of those, and likewise after its end; a neighbour written as an escape (`%3D`, `\n`,
//! `\u0022`) is judged by the character it stands for, so a secret inside a percent-encoded URL
//! or a JSON string is found, and `client` inside `invalid_client` or `client%5Fid` is not.
//! Secrets that overlap in a text are replaced together. Derived credentials (the base64 of basic
//! auth, a template that joins text and secrets) and credentials obtained during the run (OAuth2
//! tokens, signed JWTs) are registered with [`Secrets::obtained`] and redacted the same way.

use std::collections::HashMap;
use std::sync::RwLock;

use flow_diagnostics::{Diagnostic, Edit, Fix, Label};
use flow_eval::ToText;
use flow_plan::Value;
use flow_state::{SecretAt, SecretForm};
use secrecy::{ExposeSecret, SecretString};

/// A secret of fewer characters than this cannot be redacted safely: as a whole word it is
/// likely to occur in ordinary text (a word, a number, an id), which redaction then hides, and
/// it is short enough to guess. `flowc check` and `flowc run` warn about it (W0008).
pub const MIN_SECRET_CHARS: usize = 8;

/// How a registered credential is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Text,
    /// Base64: registered without its `=` padding, which goes with it when present.
    Base64,
}

/// Secret values by name, and credentials obtained during a run (OAuth2 tokens).
#[derive(Default)]
pub struct Secrets {
    values: HashMap<String, SecretString>,
    /// Obtained or derived during the run: scrubbed from output like the declared ones.
    obtained: RwLock<Vec<(String, SecretString, Form)>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_struct("Secrets").field("names", &names).finish()
    }
}

/// One value to find, with what its edges need from their neighbours.
struct Needle<'a> {
    name: &'a str,
    value: &'a [u8],
    form: Form,
    /// The first (last) character is a word character, so the one before (after) must not be.
    open_start: bool,
    open_end: bool,
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

    /// The declared secrets shorter than [`MIN_SECRET_CHARS`], by name, sorted.
    pub(crate) fn too_short(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .values
            .iter()
            .filter(|(_, v)| v.expose_secret().chars().count() < MIN_SECRET_CHARS)
            .map(|(n, _)| n.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// Registers a credential obtained during the run, so output is scrubbed of it too.
    pub(crate) fn obtained(&self, what: &str, value: &str) {
        self.register(what, value, Form::Text);
    }

    /// Registers a credential, written in `form`, under the name `what`.
    pub(crate) fn register(&self, what: &str, value: &str, form: Form) {
        let value = match form {
            Form::Text => value,
            Form::Base64 => value.trim_end_matches('='),
        };
        if value.is_empty() {
            return;
        }
        let mut list = self.obtained.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !list.iter().any(|(n, v, f)| n == what && *f == form && v.expose_secret() == value) {
            list.push((what.to_string(), SecretString::from(value.to_string()), form));
        }
    }

    /// `text` with every occurrence of a secret, in any of the forms it travels in, replaced by
    /// `[secret NAME]`. Applied to every event, diagnostic, response excerpt and dead letter the
    /// runtime produces: an API that echoes a token back in an error body must not get it printed.
    pub fn redact(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        self.scrub(text, &mut |chunk| {
            out.push_str(chunk);
            true
        });
        out
    }

    /// Hands `text` to `sink` piece by piece, in order, each secret replaced by its marker; stops
    /// as soon as `sink` answers `false`. A secret is always handed over whole (as its marker),
    /// so a caller that stops early, or cuts what it got, never holds a piece of one.
    pub(crate) fn scrub(&self, text: &str, sink: &mut dyn FnMut(&str) -> bool) {
        self.scrub_pieces(text, &mut |piece| sink(piece.text()));
    }

    /// `text` (JSON text as an API sent it: a dead letter's record that did not fit its type)
    /// scrubbed as [`Secrets::redact`] scrubs it, and where each marker went: its byte offset in
    /// the result, what it names, and how the value was written there ([`SecretForm`]), so that
    /// a replay can write it back from the secret's value then. Nothing of a value is kept: a
    /// form is one of a few fixed writers, kept only when it gives back the exact bytes the text
    /// had (none: it cannot be written back).
    pub(crate) fn redact_located(&self, text: &str) -> (String, Vec<SecretAt>) {
        let mut out = String::with_capacity(text.len());
        let mut found = Vec::new();
        self.scrub_pieces(text, &mut |piece| {
            if let Piece::Secret { names, from, .. } = &piece {
                let forms = self.forms_at(names, &text[from.clone()]);
                found.push(SecretAt { at: out.len() as u64, name: names.join(", "), forms });
            }
            out.push_str(piece.text());
            true
        });
        (out, found)
    }

    /// A record's JSON text as [`flow_eval::encode`] writes it, scrubbed value by value as
    /// [`Secrets::redact_value`] scrubs it (the same occurrences, the same markers), and where
    /// each marker went, as [`Secrets::redact_located`] says it. A number, date or `Json` value
    /// that held a secret becomes the text of its redaction, a string, so its markers have no
    /// form (a string written back would not be the value it was).
    pub(crate) fn encode_located(&self, v: &Value) -> (String, Vec<SecretAt>) {
        let mut out = String::new();
        let mut found = Vec::new();
        self.encode_into(v, &mut out, &mut found);
        (out, found)
    }

    fn encode_into(&self, v: &Value, out: &mut String, found: &mut Vec<SecretAt>) {
        match v {
            Value::Null | Value::Bool(_) => flow_eval::encode_to(v, out),
            Value::Str(s) => self.string_located(s, true, out, found),
            Value::Int(_) | Value::Float(_) | Value::Decimal(_) | Value::Date(_) | Value::DateTime(_) => {
                let text = v.to_text();
                if self.redact(&text) == text {
                    flow_eval::encode_to(v, out);
                } else {
                    self.string_located(&text, false, out, found);
                }
            }
            Value::Json(text) => {
                if self.redact(text) == **text {
                    out.push_str(text);
                } else {
                    self.string_located(text, false, out, found);
                }
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.encode_into(item, out, found);
                }
                out.push(']');
            }
            // Field names come from the `.flow` file and are kept; a dictionary's keys are data.
            Value::Object(fields) => self.members_located(fields, false, out, found),
            Value::Dict(entries) => self.members_located(entries, true, out, found),
        }
    }

    /// An object's members, each key scrubbed (and located) when `data_keys`.
    fn members_located<K: AsRef<str>>(
        &self,
        entries: &[(K, Value)],
        data_keys: bool,
        out: &mut String,
        found: &mut Vec<SecretAt>,
    ) {
        out.push('{');
        for (i, (k, f)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if data_keys {
                self.string_located(k.as_ref(), true, out, found);
            } else {
                out.push('"');
                json_escape_into(k.as_ref(), out);
                out.push('"');
            }
            out.push(':');
            self.encode_into(f, out, found);
        }
        out.push('}');
    }

    /// `s` as a JSON string, scrubbed, its markers located (none writable unless `writable`).
    fn string_located(&self, s: &str, writable: bool, out: &mut String, found: &mut Vec<SecretAt>) {
        out.push('"');
        self.scrub_pieces(s, &mut |piece| {
            match piece {
                Piece::Plain(t) => json_escape_into(t, out),
                Piece::Secret { text, names, from } => {
                    // The bytes the JSON text would have held there, judged as in `redact_located`.
                    let forms = if writable {
                        let mut written = String::new();
                        json_escape_into(&s[from], &mut written);
                        self.forms_at(names, &written)
                    } else {
                        Vec::new()
                    };
                    found.push(SecretAt { at: out.len() as u64, name: names.join(", "), forms });
                    json_escape_into(text, out);
                }
            }
            true
        });
        out.push('"');
    }

    /// The forms a declared secret's value was written in as `written` (in JSON text); several
    /// secrets, a credential obtained during the run, or an empty value: none.
    fn forms_at(&self, names: &[&str], written: &str) -> Vec<SecretForm> {
        match names {
            [name] => self
                .values
                .get(*name)
                .map(ExposeSecret::expose_secret)
                .filter(|v| !v.is_empty())
                .map_or_else(Vec::new, |v| forms_of(v, written)),
            _ => Vec::new(),
        }
    }

    /// Like [`Secrets::scrub`], each piece saying whether it is a secret's marker, and where the
    /// occurrence it replaces was.
    fn scrub_pieces(&self, text: &str, sink: &mut dyn FnMut(Piece<'_>) -> bool) {
        let obtained = self.obtained.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        // The declared secrets by name, then the obtained ones in the order they came: of two
        // with the same value, the same one is named every time, a declared one first.
        let mut declared: Vec<(&str, &str, Form)> =
            self.values.iter().map(|(n, v)| (n.as_str(), v.expose_secret(), Form::Text)).collect();
        declared.sort_by(|a, b| a.0.cmp(b.0));
        let needles: Vec<Needle<'_>> = declared
            .into_iter()
            .chain(obtained.iter().map(|(n, v, f)| (n.as_str(), v.expose_secret(), *f)))
            .filter(|(_, v, _)| !v.is_empty())
            .map(|(name, value, form)| Needle {
                name,
                value: value.as_bytes(),
                form,
                open_start: value.chars().next().is_some_and(is_word),
                open_end: value.chars().next_back().is_some_and(is_word),
            })
            .collect();
        scrub_with(text, &needles, sink);
    }

    /// Scrubs every text of a diagnostic. Every field is named, so a field added to
    /// [`Diagnostic`] must be considered here.
    pub(crate) fn redact_diagnostic(&self, d: &mut Diagnostic) {
        let Diagnostic { code: _, severity: _, message, labels, notes, help, fixes } = d;
        *message = self.redact(message);
        for Label { span: _, message, primary: _ } in labels.iter_mut() {
            *message = self.redact(message);
        }
        for n in notes.iter_mut() {
            *n = self.redact(n);
        }
        if let Some(h) = help {
            *h = self.redact(h);
        }
        for Fix { title, edits } in fixes.iter_mut() {
            *title = self.redact(title);
            for Edit { span: _, replacement } in edits.iter_mut() {
                *replacement = self.redact(replacement);
            }
        }
    }

    /// Scrubs every string, object key and number of a JSON value; a number that held a secret
    /// becomes the text of its redaction.
    pub(crate) fn redact_json(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => *s = self.redact(s),
            serde_json::Value::Number(n) => {
                let text = n.to_string();
                let clean = self.redact(&text);
                if clean != text {
                    *v = serde_json::Value::String(clean);
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| self.redact_json(i)),
            serde_json::Value::Object(fields) => {
                let old = std::mem::take(fields);
                for (k, mut item) in old {
                    self.redact_json(&mut item);
                    fields.insert(self.redact(&k), item);
                }
            }
            serde_json::Value::Null | serde_json::Value::Bool(_) => {}
        }
    }

    /// A record with every text scrubbed; a number or date that held a secret becomes the text
    /// of its redaction. Field names come from the `.flow` file and are kept. How dead letters
    /// were scrubbed before they kept where their secrets were: the oracle
    /// [`Secrets::encode_located`] is tested against.
    #[cfg(test)]
    pub(crate) fn redact_value(&self, v: &Value) -> Value {
        let scalar = |v: &Value| {
            let text = v.to_text();
            let clean = self.redact(&text);
            if clean == text {
                v.clone()
            } else {
                Value::Str(clean)
            }
        };
        match v {
            Value::Null | Value::Bool(_) => v.clone(),
            Value::Str(s) => Value::Str(self.redact(s)),
            Value::Int(_) | Value::Float(_) | Value::Decimal(_) | Value::Date(_) | Value::DateTime(_) => scalar(v),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.redact_value(i)).collect()),
            Value::Object(fields) => Value::Object(fields.iter().map(|(k, f)| (*k, self.redact_value(f))).collect()),
            // A dictionary's keys are data, not names from the `.flow` file: scrubbed too.
            Value::Dict(entries) => {
                Value::Dict(entries.iter().map(|(k, f)| (self.redact(k), self.redact_value(f))).collect())
            }
            // JSON text that held a secret becomes the text of its redaction (a redaction
            // outside a string would not be JSON).
            Value::Json(text) => {
                let clean = self.redact(text);
                if clean == **text {
                    v.clone()
                } else {
                    Value::Str(clean)
                }
            }
        }
    }
}

/// The name a record's `sensitive` values are registered under (crate::sensitive): no secret
/// can be named so, and its occurrences are written `[sensitive]`.
pub(crate) const SENSITIVE: &str = "\u{0}sensitive";

/// What replaces an occurrence: `[secret NAME, …]`, or `[sensitive]` for a sensitive value.
fn marker(names: &[&str]) -> String {
    let secrets: Vec<&str> = names.iter().copied().filter(|n| *n != SENSITIVE).collect();
    if secrets.is_empty() {
        crate::sensitive::MASK.to_string()
    } else {
        format!("[secret {}]", secrets.join(", "))
    }
}

/// A letter, digit or `_`: a character that continues a word.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Plain text is handed on in pieces of at most this many bytes, so a sink that stops early
/// stops the scan early too.
const PIECE: usize = 256;

/// A piece of a scrubbed text: as it was, or a secret's marker.
enum Piece<'a> {
    Plain(&'a str),
    /// The marker `text`, for an occurrence of the secrets `names` at `from` in the text.
    Secret {
        text: &'a str,
        names: &'a [&'a str],
        from: std::ops::Range<usize>,
    },
}

impl Piece<'_> {
    fn text(&self) -> &str {
        match self {
            Piece::Plain(t) | Piece::Secret { text: t, .. } => t,
        }
    }
}

/// The forms a replay can write a secret's value in, in the order they are tried.
const FORMS: [SecretForm; 7] = [
    SecretForm::Json,
    SecretForm::JsonAscii,
    SecretForm::Percent,
    SecretForm::PercentLower,
    SecretForm::PercentPath,
    SecretForm::UriComponent,
    SecretForm::FormUrlencoded,
];

/// Every form that writes `value` as exactly `written`: most values fit several (a key of
/// letters and digits fits all), and a replay writes a value now only when they agree on it.
fn forms_of(value: &str, written: &str) -> Vec<SecretForm> {
    FORMS.into_iter().filter(|f| write_secret(*f, value) == written).collect()
}

/// `value` written in `form`, as it stands inside a JSON string (percent-encoded text needs
/// no JSON escape).
pub(crate) fn write_secret(form: SecretForm, value: &str) -> String {
    use std::fmt::Write as _;
    let percent = |keep: &dyn Fn(u8) -> bool, upper: bool, plus: bool| {
        let mut out = String::with_capacity(value.len());
        for b in value.bytes() {
            if keep(b) {
                out.push(char::from(b));
            } else if plus && b == b' ' {
                out.push('+');
            } else if upper {
                let _ = write!(out, "%{b:02X}");
            } else {
                let _ = write!(out, "%{b:02x}");
            }
        }
        out
    };
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    match form {
        SecretForm::Json => {
            let mut out = String::with_capacity(value.len());
            json_escape_into(value, &mut out);
            out
        }
        SecretForm::JsonAscii => {
            let mut escaped = String::with_capacity(value.len());
            json_escape_into(value, &mut escaped);
            let mut out = String::with_capacity(escaped.len());
            for c in escaped.chars() {
                if c.is_ascii() {
                    out.push(c);
                } else {
                    for unit in c.encode_utf16(&mut [0; 2]) {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
            }
            out
        }
        SecretForm::Percent => percent(&unreserved, true, false),
        SecretForm::PercentLower => percent(&unreserved, false, false),
        SecretForm::PercentPath => percent(&|b| unreserved(b) || b == b'/', true, false),
        SecretForm::UriComponent => percent(&|b| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b), true, false),
        SecretForm::FormUrlencoded => percent(&|b| b.is_ascii_alphanumeric() || b"*-._".contains(&b), true, true),
    }
}

/// `s` as a JSON string's content: `"` and `\\` escaped, `\n` `\r` `\t`, other control
/// characters as `\u00XX` (lowercase hex), everything else as it is — as flowc's encoder writes
/// strings. Fixed here (and pinned by a test), not borrowed from the encoder: a dead letter's
/// `json` form must write the same bytes in every later flowc that replays it.
fn json_escape_into(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

fn scrub_with(text: &str, needles: &[Needle<'_>], sink: &mut dyn FnMut(Piece<'_>) -> bool) {
    let bytes = text.as_bytes();
    if needles.is_empty() {
        sink(Piece::Plain(text));
        return;
    }
    let mut plain = 0; // start of the text not yet handed on
    let mut i = 0;
    while i < bytes.len() {
        let Some((mut end, first)) = longest_at(text, i, needles) else {
            i += 1;
            if i - plain >= PIECE && text.is_char_boundary(i) {
                if !sink(Piece::Plain(&text[plain..i])) {
                    return;
                }
                plain = i;
            }
            continue;
        };
        // Secrets that begin inside this one and reach past it are replaced with it.
        let mut names = vec![first];
        let mut j = i + 1;
        while j < end {
            if let Some((e, name)) = longest_at(text, j, needles) {
                if e > end {
                    end = e;
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            j += 1;
        }
        let marker = marker(&names);
        if (plain < i && !sink(Piece::Plain(&text[plain..i])))
            || !sink(Piece::Secret { text: &marker, names: &names, from: i..end })
        {
            return;
        }
        plain = end;
        i = end;
    }
    if plain < bytes.len() {
        sink(Piece::Plain(&text[plain..]));
    }
}

/// The longest whole occurrence of a needle that starts at byte `i`: its end and the needle's name.
fn longest_at<'a>(text: &str, i: usize, needles: &[Needle<'a>]) -> Option<(usize, &'a str)> {
    let bytes = text.as_bytes();
    let c = bytes[i];
    let mut best: Option<(usize, &'a str)> = None;
    for n in needles {
        // Each form of the needle's first byte begins with it, `%`, `\` or (for a space) `+`.
        if c != n.value[0] && c != b'%' && c != b'\\' && !(c == b'+' && n.value[0] == b' ') {
            continue;
        }
        let Some(mut end) = match_at(bytes, i, n.value) else { continue };
        if n.form == Form::Base64 {
            for _ in 0..2 {
                match (bytes.get(end), decode_percent(bytes, end)) {
                    (Some(b'='), _) => end += 1,
                    (_, Some(b'=')) => end += 3,
                    _ => break,
                }
            }
        }
        let glued_before = n.open_start && before(text, i).is_some_and(is_word);
        let glued_after = n.open_end && after(text, end).is_some_and(is_word);
        let whole = !glued_before && !glued_after;
        if whole && best.is_none_or(|(e, _)| end > e) {
            best = Some((end, n.name));
        }
    }
    best
}

/// Where the needle, written in any mix of its forms, ends when it starts at `start`: the
/// furthest end of every way of reading it there.
fn match_at(text: &[u8], start: usize, needle: &[u8]) -> Option<usize> {
    let mut best = None;
    // (bytes of the needle matched, position in the text), each visited once.
    let mut todo = vec![(0usize, start)];
    let mut seen: Vec<(usize, usize)> = Vec::new();
    while let Some((k, j)) = todo.pop() {
        if k == needle.len() {
            best = best.max(Some(j));
            continue;
        }
        let mut next = |dk: usize, dj: usize| {
            let state = (k + dk, j + dj);
            if !seen.contains(&state) {
                seen.push(state);
                todo.push(state);
            }
        };
        let want = needle[k];
        let Some(&got) = text.get(j) else { continue };
        if got == want || (want == b' ' && got == b'+') {
            next(1, 1);
        }
        if decode_percent(text, j) == Some(want) {
            next(1, 3);
        }
        if got == b'\\' {
            match text.get(j + 1) {
                Some(b'u') => {
                    if let Some((ch, len)) = decode_unicode_escape(text, j) {
                        let mut buf = [0u8; 4];
                        let encoded = ch.encode_utf8(&mut buf).as_bytes();
                        if needle[k..].starts_with(encoded) {
                            next(encoded.len(), len);
                        }
                    }
                }
                Some(&e) if short_escape(e) == Some(want) => next(1, 2),
                _ => {}
            }
        }
    }
    best
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// The byte `%XX` at `at` stands for.
fn decode_percent(text: &[u8], at: usize) -> Option<u8> {
    match text.get(at..at + 3) {
        Some([b'%', h, l]) => Some(hex(*h)? << 4 | hex(*l)?),
        _ => None,
    }
}

/// The JSON escape `\X` stands for this byte.
fn short_escape(e: u8) -> Option<u8> {
    Some(match e {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0C,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        _ => return None,
    })
}

/// The UTF-16 unit of `\uXXXX` at `at`.
fn unit_at(text: &[u8], at: usize) -> Option<u32> {
    match text.get(at..at + 6) {
        Some([b'\\', b'u', digits @ ..]) => digits.iter().try_fold(0u32, |n, d| Some(n << 4 | u32::from(hex(*d)?))),
        _ => None,
    }
}

/// The character a `\uXXXX` escape (or a surrogate pair of them) at `at` stands for, and how
/// many bytes it takes.
fn decode_unicode_escape(text: &[u8], at: usize) -> Option<(char, usize)> {
    let unit = unit_at(text, at)?;
    if (0xD800..0xDC00).contains(&unit) {
        let low = unit_at(text, at + 6).filter(|u| (0xDC00..0xE000).contains(u))?;
        let c = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?;
        return Some((c, 12));
    }
    char::from_u32(unit).map(|c| (c, 6))
}

/// Whether the backslash at `at` begins an escape: it is not itself escaped.
fn escapes(text: &[u8], at: usize) -> bool {
    text[..=at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1
}

/// The character before byte `i`, reading an escape that ends there as what it stands for;
/// `None` at the start, or where an escape stands for no character.
fn before(text: &str, i: usize) -> Option<char> {
    let b = text.as_bytes();
    if i >= 6 && b[i - 6] == b'\\' && escapes(b, i - 6) {
        if let Some(unit) = unit_at(b, i - 6) {
            if (0xDC00..0xE000).contains(&unit) {
                // The second half of a surrogate pair: the character is the pair's.
                return i
                    .checked_sub(12)
                    .and_then(|at| decode_unicode_escape(b, at))
                    .filter(|(_, len)| *len == 12)
                    .map(|(c, _)| c);
            }
            return char::from_u32(unit);
        }
    }
    if i >= 3 {
        if let Some(last) = decode_percent(b, i - 3) {
            // A character of several bytes is written as several escapes: read them all.
            let mut bytes = vec![last];
            let mut at = i - 3;
            while bytes[0] & 0xC0 == 0x80 && bytes.len() < 4 && at >= 3 {
                let Some(prev) = decode_percent(b, at - 3) else { break };
                bytes.insert(0, prev);
                at -= 3;
            }
            return std::str::from_utf8(&bytes).ok().and_then(|s| s.chars().next());
        }
    }
    if i >= 2 && b[i - 2] == b'\\' && escapes(b, i - 2) {
        if let Some(e) = short_escape(b[i - 1]) {
            return Some(char::from(e));
        }
    }
    text[..i].chars().next_back()
}

/// The character at byte `i`, reading an escape that starts there as what it stands for.
fn after(text: &str, i: usize) -> Option<char> {
    let b = text.as_bytes();
    if let Some(first) = decode_percent(b, i) {
        let len = match first {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let bytes: Option<Vec<u8>> = (0..len).map(|n| decode_percent(b, i + 3 * n)).collect();
        return bytes.and_then(|bytes| std::str::from_utf8(&bytes).ok().and_then(|s| s.chars().next()));
    }
    if b.get(i) == Some(&b'\\') {
        if let Some((c, _)) = decode_unicode_escape(b, i) {
            return Some(c);
        }
        if let Some(e) = b.get(i + 1).and_then(|e| short_escape(*e)) {
            return Some(char::from(e));
        }
    }
    text.get(i..).and_then(|rest| rest.chars().next())
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

    fn store(pairs: &[(&str, &str)]) -> Secrets {
        let mut s = Secrets::new();
        for (name, value) in pairs {
            s.insert(*name, SecretString::from(value.to_string()));
        }
        s
    }

    /// Each form writes back exactly what the text held: found, located, named, and written
    /// again from the value, for every writer, on a value with characters each treats apart.
    #[test]
    fn a_located_secret_is_written_back_exactly_in_the_form_it_had() {
        let value = "k3y/é \"x+~*'(!)";
        let s = store(&[("KEY", value)]);
        for form in FORMS {
            let written = write_secret(form, value);
            let text = format!(r#"{{"note":"see {written} here"}}"#);
            let (kept, at) = s.redact_located(&text);
            assert_eq!(kept, r#"{"note":"see [secret KEY] here"}"#, "{form:?}: {text}");
            // Every form that writes the same bytes, this one among them.
            let fitting: Vec<SecretForm> = FORMS.into_iter().filter(|f| write_secret(*f, value) == written).collect();
            assert!(fitting.contains(&form));
            assert_eq!(at, vec![SecretAt { at: 13, name: "KEY".into(), forms: fitting.clone() }], "{form:?}");
            for f in fitting {
                let back = format!("{}{}{}", &kept[..13], write_secret(f, value), &kept[13 + at[0].marker().len()..]);
                assert_eq!(back, text);
            }
        }
        assert_eq!(write_secret(SecretForm::Percent, value), "k3y%2F%C3%A9%20%22x%2B~%2A%27%28%21%29");
        assert_eq!(write_secret(SecretForm::FormUrlencoded, "a b"), "a+b");
        assert_eq!(write_secret(SecretForm::JsonAscii, "é\""), "\\u00e9\\\"");
        // A key of letters and digits fits every form: a replay must see that they agree.
        assert_eq!(forms_of("abcdef123456", "abcdef123456"), FORMS);
    }

    /// A decoded record is scrubbed value by value, as every other output scrubs it: the same
    /// occurrences as `redact_value` and the same text as the encoder's, markers located; a
    /// number that was a secret's value becomes a string, unwritable, named by the secret alone.
    #[test]
    fn a_decoded_record_is_scrubbed_value_by_value_and_its_markers_located() {
        use flow_plan::Key;
        let s = store(&[("TOKEN", "tok-1234567890"), ("PIN", "98765432")]);
        let record = Value::Object(vec![
            // A literal backslash and `n` before the secret: read as an escape, as in a value.
            (Key::new("log"), Value::Str("auth\\ntok-1234567890".into())),
            (Key::new("note"), Value::Str("[secret plan\"".into())),
            (Key::new("pin"), Value::Int(98765432)),
            (Key::new("tags"), Value::Dict(vec![("tok-1234567890".into(), Value::Str("é\u{1}".into()))])),
            (Key::new("end"), Value::Str("a]".into())),
        ]);
        let (text, at) = s.encode_located(&record);
        assert_eq!(text, flow_eval::encode(&s.redact_value(&record)));
        assert_eq!(
            text,
            r#"{"log":"auth\\n[secret TOKEN]","note":"[secret plan\"","pin":"[secret PIN]","tags":{"[secret TOKEN]":"é\u0001"},"end":"a]"}"#
        );
        let got: Vec<(&str, &str, usize)> =
            at.iter().map(|a| (&text[a.at as usize..][..a.marker().len()], a.name.as_str(), a.forms.len())).collect();
        // The token (letters, digits and `-`) fits every form; the number that was a PIN none.
        assert_eq!(
            got,
            [
                ("[secret TOKEN]", "TOKEN", FORMS.len()),
                ("[secret PIN]", "PIN", 0),
                ("[secret TOKEN]", "TOKEN", FORMS.len())
            ]
        );
        // Without secrets, the encoder's text exactly.
        assert_eq!(Secrets::new().encode_located(&record), (flow_eval::encode(&record), vec![]));
    }

    /// The `json` writer is flowc's own, fixed: what a dead letter kept today is written back
    /// the same by every later flowc.
    #[test]
    fn the_json_writer_is_pinned() {
        let value = "a\"b\\c\n\r\t\u{1}\u{1f}\u{7f}é/\u{2028}😀";
        assert_eq!(write_secret(SecretForm::Json, value), "a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\u{7f}é/\u{2028}😀");
        assert_eq!(
            write_secret(SecretForm::JsonAscii, value),
            "a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\u{7f}\\u00e9/\\u2028\\ud83d\\ude00"
        );
        // The same as the encoder's strings today.
        let encoded = flow_eval::encode(&Value::Str(value.into()));
        assert_eq!(write_secret(SecretForm::Json, value), encoded[1..encoded.len() - 1]);
    }

    /// What cannot be written again is said so, and never guessed: a mix of escapes, secrets
    /// run together, a credential obtained during the run. Offsets are of the scrubbed text.
    #[test]
    fn what_a_replay_cannot_write_again_is_unwritable() {
        let s = store(&[("KEY", "abc/def/ghi"), ("OTHER", "ghi-jkl-mno")]);
        s.obtained("token of api crm", "tok-123456789");
        let (kept, at) = s.redact_located(r#"["abc%2Fdef/ghi","abc/def/ghi-jkl-mno","tok-123456789","abc/def/ghi"]"#);
        assert_eq!(kept, r#"["[secret KEY]","[secret KEY, OTHER]","[secret token of api crm]","[secret KEY]"]"#);
        let forms: Vec<(u64, &str, Vec<SecretForm>)> =
            at.iter().map(|a| (a.at, a.name.as_str(), a.forms.clone())).collect();
        assert_eq!(
            forms,
            [
                (2, "KEY", vec![]),
                (17, "KEY, OTHER", vec![]),
                (39, "token of api crm", vec![]),
                (67, "KEY", vec![SecretForm::Json, SecretForm::JsonAscii, SecretForm::PercentPath]),
            ]
        );
        for a in &at {
            assert!(kept[a.at as usize..].starts_with(&a.marker()));
        }
        // A text without secrets is kept as it is, and says so.
        assert_eq!(s.redact_located(r#"{"a":1}"#), (r#"{"a":1}"#.to_string(), vec![]));
    }

    #[test]
    fn redacts_whole_occurrences_and_leaves_words_that_contain_a_secret_alone() {
        let s = store(&[("ID", "client")]);
        assert_eq!(s.redact(r#"{"error":"invalid_client"}"#), r#"{"error":"invalid_client"}"#);
        assert_eq!(s.redact("clients and subclient"), "clients and subclient");
        assert_eq!(s.redact("client_id=client&scope=x"), "client_id=[secret ID]&scope=x");
        assert_eq!(s.redact("client"), "[secret ID]");
        // A secret too short to be worth redacting is still redacted (W0008 warns about it).
        let s = store(&[("PIN", "42")]);
        assert_eq!(s.redact("pin 42, not 420 or 4242"), "pin [secret PIN], not 420 or 4242");
    }

    #[test]
    fn a_secret_embedded_in_a_url_header_or_json_is_found() {
        let s = store(&[("KEY", "k3y-Abc123")]);
        for (text, want) in [
            ("GET https://x/items?api_key=k3y-Abc123&page=2", "GET https://x/items?api_key=[secret KEY]&page=2"),
            ("/users/k3y-Abc123/items", "/users/[secret KEY]/items"),
            ("X-Api-Key: k3y-Abc123", "X-Api-Key: [secret KEY]"),
            ("Authorization: Bearer k3y-Abc123", "Authorization: Bearer [secret KEY]"),
            (r#"{"key":"k3y-Abc123"}"#, r#"{"key":"[secret KEY]"}"#),
            (r#""{\"key\":\"k3y-Abc123\"}""#, r#""{\"key\":\"[secret KEY]\"}""#),
            ("line\\nk3y-Abc123\\tnext", "line\\n[secret KEY]\\tnext"),
            // Inside a percent-encoded URL: the escape before it decodes to `=`.
            (
                "next=https%3A%2F%2Fx%2F%3Fkey%3Dk3y-Abc123%26page%3D2",
                "next=https%3A%2F%2Fx%2F%3Fkey%3D[secret KEY]%26page%3D2",
            ),
            ("key%3dk3y-Abc123%5d", "key%3d[secret KEY]%5d"),
        ] {
            assert_eq!(s.redact(text), want, "{text}");
        }
        // An escape that decodes to a letter or `_` glues the secret into a longer word.
        assert_eq!(s.redact("x%5Fk3y-Abc123"), "x%5Fk3y-Abc123");
        assert_eq!(s.redact("k3y-Abc123%41"), "k3y-Abc123%41");
    }

    #[test]
    fn redacts_the_json_escaped_and_percent_encoded_forms() {
        let s = store(&[("TOKEN", "Kq7/tok+en=\u{eb}\"z 44\\1")]);
        for text in [
            "Kq7/tok+en=\u{eb}\"z 44\\1",
            // JSON, as serde_json writes it, and ASCII-only with escaped slashes.
            "Kq7/tok+en=\u{eb}\\\"z 44\\\\1",
            "Kq7\\/tok+en=\\u00eb\\\"z 44\\\\1",
            "Kq7\\/tok+en=\\u00EB\\\"z 44\\\\1",
            // Percent-encoded, upper- or lower-case, `%20` or `+` for the space, or partly.
            "Kq7%2Ftok%2Ben%3D%C3%AB%22z%2044%5C1",
            "Kq7%2ftok%2ben%3d%c3%ab%22z+44%5c1",
            "Kq7/tok%2Ben=%C3%AB%22z+44%5C1",
        ] {
            assert_eq!(s.redact(&format!("refused: {text}.")), "refused: [secret TOKEN].", "{text}");
        }
        // A character outside the BMP, escaped as a surrogate pair.
        let s = store(&[("EMOJI", "key-\u{1F511}-9f")]);
        assert_eq!(s.redact(r#"{"k":"key-\ud83d\udd11-9f"}"#), r#"{"k":"[secret EMOJI]"}"#);
    }

    #[test]
    fn overlapping_and_nested_secrets_are_redacted_whole() {
        let s = store(&[("ID", "demo-client"), ("SECRET", "demo-client-secret")]);
        assert_eq!(s.redact("id=demo-client&secret=demo-client-secret"), "id=[secret ID]&secret=[secret SECRET]");
        // Two secrets that overlap in the text: neither leaves a piece behind.
        let s = store(&[("A", "abc-def"), ("B", "def-ghi")]);
        assert_eq!(s.redact("x abc-def-ghi y"), "x [secret A, B] y");
    }

    #[test]
    fn obtained_and_derived_credentials_are_redacted_like_declared_ones() {
        let s = store(&[]);
        s.obtained("token of api crm", "tok/1+0=");
        assert_eq!(
            s.redact("Bearer tok/1+0= and tok%2F1%2B0%3D"),
            "Bearer [secret token of api crm] and [secret token of api crm]"
        );
    }
}
