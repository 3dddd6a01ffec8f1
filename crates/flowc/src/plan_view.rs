//! The human view of a plan: what will be called, in what order, with what policy.

use std::fmt::Write as _;

use flow_plan::{Auth, EndpointCall, OnError, Pagination, Part, Plan, Span, Step, Template};

/// The human view of `plan` (what `flowc plan` prints), quoting `source` where a step comes from.
pub(crate) fn render_plan(plan: &Plan, source: &str) -> String {
    let mut out = String::new();
    let text = |span: Span| source.get(span.range()).unwrap_or("…").split_whitespace().collect::<Vec<_>>().join(" ");
    for flow in &plan.flows {
        let policy = match &flow.on_error {
            OnError::Fail => "stop at the first failed record".to_string(),
            OnError::DeadLetter { path } => format!("failed records to dead letter file {path}"),
        };
        let _ = writeln!(out, "flow {}", flow.name);
        let _ = writeln!(out, "  {} records at once · on error: {policy}", flow.concurrency);
        if let Some(state) = &flow.state {
            flow_state(state, flow_plan::store_key_secret(plan), &mut out);
        }
        steps(plan, &flow.body, 1, "", &mut out, &text);
        out.push('\n');
    }
    if !plan.apis.is_empty() {
        out.push_str("apis\n");
    }
    for api in &plan.apis {
        let _ = writeln!(out, "  {}  {}", api.name, api.base_url);
        let _ = writeln!(
            out,
            "    auth: {} · timeout {} · {} requests at once",
            auth(&api.auth),
            duration(api.timeout_ms),
            api.concurrency
        );
        let rate = api
            .rate_limit
            .map_or_else(String::new, |r| format!(" · at most {} requests per {}", r.requests, duration(r.per_ms)));
        let _ = writeln!(
            out,
            "    retry: {} attempts, backoff from {} doubling up to {}{rate}",
            api.retry.attempts,
            duration(api.retry.base_ms),
            duration(api.retry.max_ms)
        );
        for h in &api.headers {
            let _ = writeln!(out, "    header {}: {}", h.name, template(&h.value));
        }
    }
    if !plan.secrets.is_empty() {
        let _ = writeln!(out, "secrets (from the environment or .env): {}", plan.secrets.join(", "));
    }
    out
}

fn steps(plan: &Plan, body: &[Step], depth: usize, prefix: &str, out: &mut String, text: &dyn Fn(Span) -> String) {
    let pad = "  ".repeat(depth);
    for (i, step) in body.iter().enumerate() {
        let number = format!("{prefix}{}", i + 1);
        match step {
            Step::Let { span, .. } => {
                let _ = writeln!(out, "{pad}{number}. {}", text(*span));
            }
            Step::Call { call, bind } => {
                // A bound call's answer is named for the statements after it: say so.
                let bound = bind.as_ref().map_or_else(String::new, |name| format!("let {name} = "));
                let _ = writeln!(out, "{pad}{number}. {bound}{}", text(call.span));
                let _ = writeln!(out, "{pad}     → {}", request(plan, call));
            }
            Step::For { var, source, filter, body, .. } => {
                let _ = writeln!(out, "{pad}{number}. for each {var} in {}", text(source.span));
                let _ = writeln!(out, "{pad}     → {}", request(plan, source));
                if let Some(e) = plan.endpoints.get(source.endpoint) {
                    let records = match &e.records {
                        Some(p) if p.is_empty() => "the response".to_string(),
                        Some(p) => format!("response.{}", p.join(".")),
                        None => "?".into(),
                    };
                    let pages = match &e.paginate {
                        None => "one page".to_string(),
                        Some(Pagination::Cursor { param, from, .. }) => {
                            format!("pages by cursor: `{param}` from {}", from.describe())
                        }
                        Some(Pagination::NextUrl { from, .. }) => {
                            format!("pages by next URL from {}", from.describe())
                        }
                        Some(Pagination::LinkHeader { .. }) => "pages by the Link header's rel=\"next\"".to_string(),
                        Some(Pagination::Page { param, start, .. }) => {
                            format!("pages by number: `{param}` from {start}")
                        }
                        Some(Pagination::Offset { param, size, .. }) => {
                            format!("pages by offset: `{param}`, {size} a page")
                        }
                    };
                    let _ = writeln!(out, "{pad}     records: {records} · {pages}");
                }
                if let Some(f) = filter {
                    let _ = writeln!(out, "{pad}     where {}", text(f.span));
                }
                let nested = format!("{number}.");
                steps(plan, body, depth + 1, &nested, out, text);
            }
        }
    }
}

fn request(plan: &Plan, call: &EndpointCall) -> String {
    let Some(e) = plan.endpoints.get(call.endpoint) else {
        return "?".into();
    };
    let api = plan.apis.get(e.api);
    let path: String = e
        .path
        .iter()
        .map(|p| match p {
            flow_plan::PathPart::Text(t) => t.clone(),
            flow_plan::PathPart::Param(n) => format!("{{{n}}}"),
        })
        .collect();
    format!(
        "{} {}{} ({})",
        e.method,
        api.map_or("", |a| a.base_url.as_str()),
        path,
        api.map_or("?", |a| a.name.as_str())
    )
}

fn template(t: &Template) -> String {
    t.0.iter()
        .map(|p| match p {
            Part::Text(s) => format!("{s:?}"),
            Part::Secret(name) => format!("secret {name}"),
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn auth(a: &Auth) -> String {
    match a {
        Auth::None => "none".into(),
        Auth::Bearer { token } => format!("bearer({})", template(token)),
        Auth::Basic { user, password } => {
            format!("basic({}, {})", template(user), template(password))
        }
        Auth::ApiKeyHeader { header, value } => {
            format!("api key in header {header}: {}", template(value))
        }
        Auth::ApiKeyQuery { param, value } => {
            format!("api key in query parameter {param}: {}", template(value))
        }
        Auth::OAuth2ClientCredentials { token_url, client_id, client_secret, scope } => format!(
            "OAuth2 client credentials from {token_url} (client id {}, client secret {}{})",
            template(client_id),
            template(client_secret),
            scope.as_ref().map_or_else(String::new, |s| format!(", scope {s:?}"))
        ),
        Auth::Jwt { algorithm, key, claims, ttl_ms } => format!(
            "{algorithm} JWT signed with {}, claims {}, renewed every {}",
            template(key),
            claims.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
            duration(*ttl_ms)
        ),
        Auth::OAuth2RefreshToken { token_url, client_id, client_secret, refresh_token } => format!(
            "OAuth2 refresh token from {token_url} (client id {}, client secret {}, refresh token {})",
            template(client_id),
            template(client_secret),
            template(refresh_token)
        ),
    }
}

/// What a flow's state is, what the flow reads of it and what it writes.
/// A flow's `state`; `store_key`: the secret the file's one store is encrypted with, named by
/// whichever flow names it (every flow with state in the file uses that store).
fn flow_state(s: &flow_plan::FlowState, store_key: Option<&str>, out: &mut String) {
    let path = |p: &[flow_plan::Key]| format!("record.{}", p.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("."));
    let initial = flow_eval::encode(&s.initial);
    let _ = writeln!(out, "  state {}: {} · initially {initial} (when the store has none)", s.name, s.ty.name());
    let lag = if s.lag_ms > 0 { format!(" less the lag of {}", duration(s.lag_ms)) } else { String::new() };
    let _ = writeln!(out, "    reads: state.{} (the stored cursor{lag}) in the source of step {}", s.name, s.step + 1);
    let when = if s.sorted {
        "at each checkpoint (the source is sorted by it)"
    } else {
        "when the pull completes (the source is not declared sorted); mid-pull, the page position"
    };
    let _ = writeln!(out, "    writes: the greatest {} delivered, {when}", path(&s.from));
    match &s.key {
        Some(k) => {
            let _ = writeln!(
                out,
                "    boundary: {} of the records at the cursor{}, not delivered twice",
                path(k),
                if s.lag_ms > 0 { " and within the lag" } else { "" }
            );
        }
        None => {
            let _ = writeln!(out, "    boundary: no key, records at the cursor may be delivered again");
        }
    }
    let _ = writeln!(
        out,
        "    checkpoints: every {} records or {}, and at the end",
        s.checkpoint_every,
        duration(s.checkpoint_interval_ms)
    );
    if let Some(secret) = store_key {
        let _ = writeln!(out, "    store: encrypted at rest, its key derived from secret {secret}");
    }
}

fn duration(ms: u64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}
