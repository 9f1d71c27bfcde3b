//! API keys: made once, shown once, stored only as a SHA-256 digest.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that makes Pier keys recognisable in logs and secret scanners.
pub const API_KEY_PREFIX: &str = "pier_";

/// A new API key (shown to its owner once).
pub fn new_api_key(rng: &mut impl RngCore) -> String {
    format!("{API_KEY_PREFIX}{}", crate::id::random_token(40, rng))
}

/// A new delivery signing secret for a project.
pub fn new_signing_secret(rng: &mut impl RngCore) -> String {
    crate::id::random_token(32, rng)
}

/// The digest under which a key is stored and looked up (hex SHA-256).
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn keys_are_prefixed_and_hash_stably() {
        let mut rng = StdRng::seed_from_u64(9);
        let k = new_api_key(&mut rng);
        assert!(k.starts_with("pier_"));
        assert_eq!(hash_api_key(&k), hash_api_key(&k));
        assert_ne!(hash_api_key(&k), hash_api_key("pier_other"));
        assert_eq!(hash_api_key(&k).len(), 64);
    }
}
