//! Preflight: what is judged after the check and before anything is sent, with the secrets at
//! hand (the environment or a `.env` file). `flowc check` shows it when the secrets are there,
//! `flowc run` stops on its errors before the run starts, and the run itself refuses to start
//! while a declared secret has no value.

use flow_diagnostics::{codes, Diagnostic};
use flow_plan::{Auth, Plan};

use crate::auth::{jwt_key, resolve, uses_secret};
use crate::secrets::Secrets;

/// R0006 for each declared secret that has no value, at the apis that send it.
pub(crate) fn missing_secrets(plan: &Plan, secrets: &Secrets) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for name in plan.secrets.iter().filter(|s| !secrets.contains(s)) {
        let mut d = Diagnostic::new(codes::MISSING_SECRET, format!("secret `{name}` has no value")).help(format!(
            "set the environment variable {name}, or add `{name}=…` to the .env file beside the .flow file"
        ));
        for api in plan.apis.iter().filter(|a| uses_secret(a, name)) {
            d = d.secondary(api.span, format!("api `{}` needs it", api.name));
        }
        if let Some(l) = d.labels.first_mut() {
            l.primary = true;
        }
        out.push(d);
    }
    out
}

/// The secrets [`check_credentials`] reads: every declared one (their lengths are judged, and
/// JWT signing keys are parsed).
pub fn credential_secrets(plan: &Plan) -> Vec<String> {
    let mut names = plan.secrets.clone();
    names.sort();
    names.dedup();
    names
}

/// Credentials checked before anything runs, with the secrets at hand (the environment or a
/// `.env` file): a JWT key that cannot sign is E0408 at the api that uses it, and a secret
/// shorter than [`crate::MIN_SECRET_CHARS`] is W0008 at the apis that send it. A secret that is
/// not set is not judged here; the run reports it.
pub fn check_credentials(plan: &Plan, secrets: &Secrets) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for name in secrets.too_short() {
        // The length is not said: even that is more than output should tell about a secret.
        let mut d = Diagnostic::new(
            codes::SHORT_SECRET,
            format!("secret `{name}` is shorter than {} characters, too short to redact safely", crate::MIN_SECRET_CHARS),
        )
        .note("output shows every whole occurrence of a secret's value as `[secret NAME]`; a value this short is likely to be an ordinary word, number or id too, which is then hidden, and it is easy to guess")
        .help(format!("use a longer value for {name}; if it is no secret (a user name), write it as text in the api instead of declaring a secret"));
        for api in plan.apis.iter().filter(|a| uses_secret(a, name)) {
            d = d.secondary(api.span, format!("api `{}` sends {name}", api.name));
        }
        if let Some(l) = d.labels.first_mut() {
            l.primary = true;
        }
        out.push(d);
    }
    for api in &plan.apis {
        let Auth::Jwt { algorithm, key, .. } = &api.auth else { continue };
        let Some(material) = resolve(key, secrets) else { continue };
        if let Err(why) = jwt_key(algorithm, &material, &api.name) {
            let names: Vec<&str> = key
                .0
                .iter()
                .filter_map(|p| match p {
                    flow_plan::Part::Secret(n) => Some(n.as_str()),
                    flow_plan::Part::Text(_) => None,
                })
                .collect();
            let help = if algorithm == "RS256" {
                format!(
                    "set {} to the whole PEM text, from `-----BEGIN PRIVATE KEY-----` (or `BEGIN RSA PRIVATE KEY`) to its END line",
                    names.join(", ")
                )
            } else {
                format!("set {} to a random secret of at least 16 bytes (32 is better)", names.join(", "))
            };
            out.push(
                Diagnostic::new(codes::BAD_SIGNING_KEY, why)
                    .primary(api.span, format!("signs with {algorithm}"))
                    .help(help),
            );
        }
    }
    out
}
