//! Keys and authenticated encryption, and nothing about documents.
//!
//! Every byte Warden writes about knowledge goes through [`SecretKey::seal`]:
//! AES-256-GCM with a fresh random 96-bit nonce and associated data that names
//! what the ciphertext is (tenant, document, version, ...), so a ciphertext
//! moved to another place fails to open. Keys are zeroized when dropped and
//! never printed: their `Debug` says `[redacted]`.
//!
//! The key hierarchy (master → tenant → document) lives in [`keyring`]; the
//! store derives purpose keys from it with [`SecretKey::derive`] (HKDF-SHA256).

pub mod keyring;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use keyring::{KdfParams, Keyring, KeyringError, Unlock, UnlockerInfo};

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "authentication failed: the data is damaged, was moved from elsewhere, or the key is wrong"
    )]
    Authentication,
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

/// A 256-bit secret key, wiped from memory when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// A fresh key from the operating system's random number generator.
    pub fn random() -> Result<Self, CryptoError> {
        let mut bytes = [0u8; KEY_LEN];
        fill_random(&mut bytes)?;
        Ok(Self(bytes))
    }

    pub fn from_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
        let key = Self(bytes);
        bytes.zeroize();
        key
    }

    /// Reads a key from a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self::from_bytes(array))
    }

    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A key for one purpose, derived with HKDF-SHA256 (`purpose` is the info).
    pub fn derive(&self, purpose: &str) -> SecretKey {
        derive_key(&self.0, &[], purpose)
    }

    /// Encrypts `plaintext`; the result is nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let started = Instant::now();
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let cipher = Aes256Gcm::new(self.0.as_ref().into());
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: associated,
                },
            )
            .map_err(|_| CryptoError::Authentication)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        record(started, plaintext.len());
        Ok(sealed)
    }

    /// Decrypts what [`seal`](Self::seal) produced with the same associated data.
    pub fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let started = Instant::now();
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Authentication);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new(self.0.as_ref().into());
        let plaintext = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated,
                },
            )
            .map_err(|_| CryptoError::Authentication)?;
        record(started, plaintext.len());
        Ok(plaintext)
    }
}

/// HKDF-SHA256 from input key material, a salt and an info string.
pub(crate) fn derive_key(material: &[u8], salt: &[u8], info: &str) -> SecretKey {
    let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), material);
    let mut out = [0u8; KEY_LEN];
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hkdf.expand(info.as_bytes(), &mut out);
    SecretKey::from_bytes(out)
}

pub fn fill_random(bytes: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(bytes).map_err(|err| CryptoError::Random(err.to_string()))
}

/// A random identifier: `prefix` and 128 random bits in hex.
pub fn random_id(prefix: &str) -> Result<String, CryptoError> {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes)?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

static NANOS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

fn record(started: Instant, bytes: usize) {
    NANOS.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
}

/// Time spent in AEAD (seconds) and bytes processed since the process started:
/// how benches report the share of ingest time that encryption costs.
pub fn aead_totals() -> (f64, u64) {
    (
        NANOS.load(Ordering::Relaxed) as f64 / 1e9,
        BYTES.load(Ordering::Relaxed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_the_same_key_and_associated_data() {
        let key = SecretKey::random().unwrap();
        let sealed = key.seal(b"tenant a", b"secret text").unwrap();
        assert_eq!(key.open(b"tenant a", &sealed).unwrap(), b"secret text");
        assert!(key.open(b"tenant b", &sealed).is_err());
        assert!(SecretKey::random()
            .unwrap()
            .open(b"tenant a", &sealed)
            .is_err());
        let mut flipped = sealed.clone();
        flipped[NONCE_LEN + 2] ^= 1;
        assert!(key.open(b"tenant a", &flipped).is_err());
        assert!(key.open(b"tenant a", &sealed[..10]).is_err());
    }

    #[test]
    fn keys_never_print() {
        let key = SecretKey::random().unwrap();
        assert_eq!(format!("{key:?}"), "SecretKey([redacted])");
        assert_ne!(key.derive("a"), key.derive("b"));
    }
}
