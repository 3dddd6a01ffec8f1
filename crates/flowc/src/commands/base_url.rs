//! `--base-url API=URL`: read from the command line here, applied by the runtime's rule
//! ([`flow_runtime::override_base_urls`]), and a refusal worded here, naming the flag.

use std::process::ExitCode;

use flow_diagnostics::{codes, Diagnostic};
use flow_runtime::OverrideError;

use super::{stderr_color, Source};
use crate::report;

/// The text of `--base-url API=URL`. Whether the URL is one the api may take is the runtime's
/// rule; the URL itself is not repeated in the error, as it might carry a password.
pub(crate) fn parse(s: &str) -> Result<flow_runtime::BaseUrl, String> {
    let Some((api, url)) = s.split_once('=').filter(|(api, url)| !api.is_empty() && !url.is_empty()) else {
        return Err("expected API=URL, such as `shop=https://staging.example.com/v1`".into());
    };
    let url = url::Url::parse(url).map_err(|e| format!("the URL for api `{api}` is not an absolute URL ({e})"))?;
    Ok(flow_runtime::BaseUrl { api: api.to_string(), url })
}

/// Applies `--base-url` overrides; a refused one is rendered against the source, and is a usage
/// error (exit 2) either way.
pub(crate) fn apply(
    source: &Source,
    plan: &mut flow_plan::Plan,
    overrides: &[flow_runtime::BaseUrl],
) -> miette::Result<Option<ExitCode>> {
    let refused = match flow_runtime::override_base_urls(plan, overrides) {
        Ok(()) => return Ok(None),
        Err(OverrideError::UnknownApi { api, declared }) => {
            return Err(miette::miette!(
                "--base-url names api `{api}`, which the file does not declare (it declares: {})",
                if declared.is_empty() { "no apis".to_string() } else { declared.join(", ") }
            ))
        }
        Err(OverrideError::NotHttp { api }) => {
            let (name, span) = (&plan.apis[api].name, plan.apis[api].span);
            let flag = format!("`--base-url {name}=…`");
            Diagnostic::new(
                codes::BAD_URL,
                format!("invalid base URL for api `{name}`: {flag} is not an http or https URL without a query"),
            )
            .primary(span, format!("{flag} overrides the base URL of this api"))
            .help("give an absolute URL such as `--base-url NAME=https://staging.example.com/v1`")
        }
        Err(OverrideError::PlainHttp { api, host }) => {
            let (name, span) = (&plan.apis[api].name, plan.apis[api].span);
            let flag = format!("`--base-url {name}=…`");
            Diagnostic::new(codes::INSECURE_HTTP, "plain http:// to a host that is not this machine")
                .primary(span, format!("{flag} points this api at plain http:// on `{host}`"))
                .note("credentials and records would cross the network unencrypted")
                .help("use https://, or a host of this machine (localhost, 127.0.0.1, [::1]); if this API really has no TLS, declare `allow_http = true` in the api")
        }
    };
    report::eprint(&flow_diagnostics::render_diagnostics(&source.name, &source.text, &[refused], stderr_color()));
    Ok(Some(ExitCode::from(2)))
}
