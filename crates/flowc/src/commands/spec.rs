//! `flowc check --spec [API=]SPEC`: the spec files read once, and each checked file compared
//! with them (the logic is `flow_openapi::check_spec`'s).

use std::path::Path;

use flow_diagnostics::Diagnostic;

/// The `--spec` arguments as given.
pub(crate) struct SpecArgs {
    /// Each spec: the api it describes when named (`github=spec.json`), and its path.
    pub specs: Vec<(Option<String>, String)>,
    pub required: bool,
}

/// `API=PATH` names the api when what is before `=` is a name; anything else is a path.
pub(crate) fn parse(args: &[String], required: bool) -> SpecArgs {
    let specs = args
        .iter()
        .map(|a| match a.split_once('=') {
            Some((api, path))
                if !api.is_empty()
                    && api.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !api.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                (Some(api.to_string()), path.to_string())
            }
            _ => (None, a.clone()),
        })
        .collect();
    SpecArgs { specs, required }
}

/// A spec, read: its name as given, and the document or why it cannot be used (E0611).
pub(crate) struct Loaded {
    pub name: String,
    pub options: flow_openapi::SpecOptions,
    pub spec: Result<serde_json::Value, Diagnostic>,
}

/// Reads every spec; a file that cannot be read at all is bad input (exit 2), one that is no
/// OpenAPI document in JSON or YAML is E0611 on each checked file.
pub(crate) fn load(args: &SpecArgs) -> miette::Result<Vec<Loaded>> {
    let mut out = Vec::new();
    for (api, path) in &args.specs {
        let p = Path::new(path);
        let bytes = std::fs::read(p).map_err(|e| miette::miette!("cannot read {path}: {e}"))?;
        let yaml = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        let spec = match std::str::from_utf8(&bytes) {
            Ok(text) => flow_openapi::read_spec_for_check(path, text, yaml),
            Err(e) => Err(flow_openapi::unreadable_spec(path, &format!("not UTF-8 text ({e})"))),
        };
        out.push(Loaded {
            name: path.clone(),
            options: flow_openapi::SpecOptions { api: api.clone(), required: args.required, ..Default::default() },
            spec,
        });
    }
    Ok(out)
}

/// What one spec was compared with in one checked file: the last line of the text output, an
/// event of the JSON output.
pub(crate) struct Compared {
    /// The spec, as given.
    pub spec: String,
    pub endpoints: usize,
    pub types: usize,
}

impl Compared {
    /// `compared with SPEC: N endpoints, M types`.
    pub(crate) fn line(&self) -> String {
        format!(
            "compared with {}: {} endpoint{}, {} type{}",
            self.spec,
            self.endpoints,
            super::plural(self.endpoints),
            self.types,
            super::plural(self.types)
        )
    }

    /// `{"event": "spec_compared", "file", "spec", "endpoints", "types"}`.
    pub(crate) fn json(&self, file: &str) -> serde_json::Value {
        serde_json::json!({
            "event": "spec_compared",
            "file": file,
            "spec": self.spec,
            "endpoints": self.endpoints,
            "types": self.types,
        })
    }
}

/// Compares one checked file's text with every spec: the diagnostics, and what was compared
/// with each spec.
pub(crate) fn compare(text: &str, specs: &[Loaded]) -> (Vec<Diagnostic>, Vec<Compared>) {
    let mut diagnostics = Vec::new();
    let mut lines = Vec::new();
    if specs.is_empty() {
        return (diagnostics, lines);
    }
    let (file, _) = flow_syntax::parse(text);
    // Each spec is told what the others have (several specs: one per api).
    let each: Vec<Option<flow_openapi::Others>> = specs
        .iter()
        .map(|s| s.spec.as_ref().ok().map(|spec| flow_openapi::others_of(&file, spec, &s.options)))
        .collect();
    for (i, s) in specs.iter().enumerate() {
        match &s.spec {
            Err(d) => diagnostics.push(d.clone()),
            Ok(spec) => {
                let mut options = s.options.clone();
                for (j, o) in each.iter().enumerate() {
                    let Some(o) = o else { continue };
                    if j == i {
                        continue;
                    }
                    options.others.keys.extend(o.keys.iter().cloned());
                    options.others.names.extend(o.names.iter().cloned());
                    options.others.apis.extend(o.apis.iter().cloned());
                    // A link no spec has is reported by the first readable spec only.
                    options.others.quiet_links |= j < i;
                }
                let report = flow_openapi::check_spec(&file, text, spec, &options);
                lines.push(Compared { spec: s.name.clone(), endpoints: report.endpoints, types: report.types });
                diagnostics.extend(report.diagnostics);
            }
        }
    }
    (diagnostics, lines)
}
