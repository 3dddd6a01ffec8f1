//! Encryption at rest of record data: XChaCha20-Poly1305, a random 192-bit nonce per value
//! (random nonces are safe at that size), and the value's place (table, column, flow) as
//! associated data, so a sealed value moved to another place does not open.

use crate::StateError;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

const NONCE: usize = 24;

/// A 256-bit key for an encrypted store. The caller derives it (from a `secret`); it is never
/// stored, printed or logged (`Debug` shows nothing of it).
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl StoreKey {
    /// The fewest bytes a secret must have to derive a key from ([`StoreKey::derive`]).
    pub const MIN_SECRET_BYTES: usize = 16;

    /// The key for a store, derived from a secret's value with HKDF-SHA256 (a fixed salt and an
    /// info naming the cipher and this derivation's version, so another use of the same secret
    /// gets another key). HKDF extracts the entropy a secret has and stretches none into it: the
    /// secret must be a random value (`openssl rand -base64 32`), not a password; one shorter
    /// than [`StoreKey::MIN_SECRET_BYTES`] is refused.
    pub fn derive(secret: &[u8]) -> Result<StoreKey, StateError> {
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err(StateError::WeakKeySecret { len: secret.len(), min: Self::MIN_SECRET_BYTES });
        }
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"flowc state store"), secret);
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit (255 * 32), so expanding cannot fail.
        hk.expand(b"xchacha20poly1305 key v1", &mut *key).map_err(|_| StateError::KeyLength { len: 32 })?;
        Ok(StoreKey(key))
    }

    /// Exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<StoreKey, StateError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| StateError::KeyLength { len: bytes.len() })?;
        Ok(StoreKey(Zeroizing::new(key)))
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(…)")
    }
}

/// Seals and opens the values that hold record data; plain on an unencrypted store.
pub(crate) enum Sealer {
    Plain,
    Sealed(Box<XChaCha20Poly1305>),
}

/// Failures of sealing; the store words them with its path.
pub(crate) enum SealError {
    /// The system's random source failed.
    Random(String),
    /// Too short, or its tag does not verify (another key, or changed bytes).
    Open,
}

impl Sealer {
    pub(crate) fn new(key: Option<&StoreKey>) -> Sealer {
        match key {
            None => Sealer::Plain,
            Some(k) => Sealer::Sealed(Box::new(XChaCha20Poly1305::new(&(*k.0).into()))),
        }
    }

    pub(crate) fn seal(&self, aad: &str, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let Sealer::Sealed(c) = self else { return Ok(plain.to_vec()) };
        let nonce = XNonce::try_generate().map_err(|e| SealError::Random(e.to_string()))?;
        let sealed = c.encrypt(&nonce, Payload { msg: plain, aad: aad.as_bytes() }).map_err(|_| SealError::Open)?;
        let mut out = Vec::with_capacity(NONCE + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub(crate) fn open(&self, aad: &str, blob: &[u8]) -> Result<Vec<u8>, SealError> {
        let Sealer::Sealed(c) = self else { return Ok(blob.to_vec()) };
        if blob.len() < NONCE {
            return Err(SealError::Open);
        }
        let (nonce, msg) = blob.split_at(NONCE);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Open)?;
        c.decrypt(&nonce, Payload { msg, aad: aad.as_bytes() }).map_err(|_| SealError::Open)
    }

    pub(crate) fn encrypted(&self) -> bool {
        matches!(self, Sealer::Sealed(_))
    }
}

/// 16 random bytes as hex: a lease's token.
pub(crate) fn random_token() -> Result<String, SealError> {
    let n = XNonce::try_generate().map_err(|e| SealError::Random(e.to_string()))?;
    Ok(n[..16].iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_derived_from_a_secret_is_stable_distinct_and_refused_from_a_short_secret() {
        let a = StoreKey::derive(b"0123456789abcdef-a").expect("derive");
        let again = StoreKey::derive(b"0123456789abcdef-a").expect("derive");
        let b = StoreKey::derive(b"0123456789abcdef-b").expect("derive");
        assert_eq!(*a.0, *again.0, "the same secret, the same key");
        assert_ne!(*a.0, *b.0);
        assert_ne!(&a.0[..18], b"0123456789abcdef-a", "the key is not the secret");
        // A value sealed with one opens with the same derivation only.
        let sealed = Sealer::new(Some(&a)).seal("t", b"record").ok().expect("seal");
        assert!(Sealer::new(Some(&again)).open("t", &sealed).is_ok());
        assert!(Sealer::new(Some(&b)).open("t", &sealed).is_err());
        assert!(matches!(StoreKey::derive(b"short"), Err(StateError::WeakKeySecret { len: 5, min: 16 })));
        assert_eq!(format!("{a:?}"), "StoreKey(…)", "Debug shows nothing of it");
    }
}
