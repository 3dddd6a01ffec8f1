//! JWT: a token the run signs itself (RS256 or HS256) with the api's claims, cached like an
//! OAuth2 token and signed again when it is due for renewal or refused.

use std::time::{Duration, Instant};

use flow_diagnostics::codes;
use flow_plan::Api;

use super::{renew_at, Credentials, Slot, Token};
use crate::http::Failure;

impl Credentials {
    /// A JWT for the api: the cached one while it is fresh (and not refused), else a new one.
    pub(super) async fn signed(
        &self,
        api_index: usize,
        api: &Api,
        algorithm: &str,
        claims: &[(String, serde_json::Value)],
        ttl_ms: u64,
        stale: Option<&str>,
    ) -> Result<String, Failure> {
        use secrecy::ExposeSecret;
        let (Some(slot), Some(Some(key))) = (self.tokens.get(api_index), self.jwt_keys.get(api_index)) else {
            return Err(Failure::new(codes::AUTH_FAILED, "internal error: no JWT key"));
        };
        let mut cached = slot.lock().await;
        if let Slot::Valid(t) = &*cached {
            let current = t.value.expose_secret();
            if t.expires.is_none_or(|e| e > Instant::now()) && stale.is_none_or(|s| s != current) {
                return Ok(current.to_string());
            }
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let ttl = Duration::from_millis(ttl_ms.max(1000));
        let mut body: serde_json::Map<String, serde_json::Value> = claims.iter().cloned().collect();
        body.insert("iat".into(), now.into());
        body.insert("exp".into(), (now + ttl.as_secs()).into());
        let alg = if algorithm == "RS256" { jsonwebtoken::Algorithm::RS256 } else { jsonwebtoken::Algorithm::HS256 };
        let token = jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &body, key).map_err(|e| {
            Failure::new(codes::AUTH_FAILED, format!("the JWT for api `{}` could not be signed: {e}", api.name))
        })?;
        self.secrets.obtained(&format!("JWT of api {}", api.name), &token);
        *cached = Slot::Valid(Token {
            value: secrecy::SecretString::from(token.clone()),
            expires: Some(renew_at(Instant::now(), ttl)),
            refresh: None,
        });
        Ok(token)
    }
}

/// A JWT signing key: RS256 from an RSA private key in PEM form, HS256 from a secret of at least
/// 16 bytes. The error says what is wrong without quoting the key.
pub(crate) fn jwt_key(algorithm: &str, material: &str, api: &str) -> Result<jsonwebtoken::EncodingKey, String> {
    if algorithm == "RS256" {
        jsonwebtoken::EncodingKey::from_rsa_pem(material.as_bytes())
            .map_err(|_| format!("the JWT key of api `{api}` is not an RSA private key in PEM form"))
    } else if material.len() < 16 {
        Err(format!("the HS256 secret of api `{api}` is shorter than 16 bytes"))
    } else {
        Ok(jsonwebtoken::EncodingKey::from_secret(material.as_bytes()))
    }
}
