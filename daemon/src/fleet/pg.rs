//! PostgreSQL errors as the fleet code reads them: in words, and whether the link is gone.

/// A PostgreSQL error in words (the client's own text names no password).
pub fn describe(e: &postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// Whether `e` means the link is gone (no server, a dropped connection, a server shutting
/// down or refusing connections) rather than a refused statement.
pub fn link_failed(e: &postgres::Error) -> bool {
    match e.as_db_error() {
        None => true,
        // 08: connection exception; 57: operator intervention (shutdown, admin cut).
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || code.starts_with("57")
        }
    }
}
