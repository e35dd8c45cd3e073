//! Token values: random, prefixed so they are recognisable in a secret scanner, stored hashed.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A new token: `sl_` and 244 random bits from the OS generator.
pub fn generate() -> String {
    format!("sl_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// What is stored and looked up: the SHA-256 of the token. Tokens carry enough entropy that a
/// slow password hash would add nothing.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_hash_stably() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(a.starts_with("sl_") && a.len() == 67);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
    }
}
