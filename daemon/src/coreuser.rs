//! How Veil names a key in the core: the email `key-ID@veil`, from the immutable id (renames
//! never touch the core).

/// The email a key has in the core: derived from its immutable id, never from its name, so
/// renames never touch the core.
pub fn email_for(id: i64) -> String {
    format!("key-{id}@veil")
}

/// The key id of an email Veil gave, if it is one.
pub fn id_from_email(email: &str) -> Option<i64> {
    let id = email.strip_prefix("key-")?.strip_suffix("@veil")?;
    if id.starts_with('0') || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok().filter(|id| *id > 0)
}
