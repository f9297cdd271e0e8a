//! What the registry's owner runs (`veild fleet init`, `veild fleet add-node`): the
//! schema, versioned and append-only like the local one, and one role per node. Nodes
//! never own a table, so row-level security always holds for them.

use postgres::{Client, Config};

use crate::config::fleet::valid_node_name;

/// Every registry migration in order. Never edit or reorder a shipped entry; append.
pub const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_registry",
    include_str!("../../fleet/0001_registry.sql"),
)];

/// The schema version the registry must have (the number of `daemon/fleet/*.sql` files).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Serializes two `init`s run at once.
const INIT_LOCK: i64 = 0x7665_696d;

/// The owner's connection string, and the CA of the server's certificate (default: the
/// system's bundle).
pub struct Owner<'a> {
    pub url: &'a str,
    pub ca_file: Option<&'a std::path::Path>,
}

fn connect(owner: &Owner<'_>) -> Result<Client, String> {
    let cfg: Config = owner
        .url
        .parse()
        .map_err(|e| format!("the owner's connection string: {e}"))?;
    let tls = super::tls::connector(owner.ca_file)?;
    cfg.connect(tls).map_err(|e| {
        format!(
            "connecting as the registry's owner: {}",
            super::pg::describe(&e)
        )
    })
}

/// Brings the registry's schema up to this build's. Returns (version before, after).
pub fn init(owner: &Owner<'_>) -> Result<(i64, i64), String> {
    let mut client = connect(owner)?;
    let run = |client: &mut Client| -> Result<(i64, i64), postgres::Error> {
        client.execute("SELECT pg_advisory_lock($1)", &[&INIT_LOCK])?;
        client.batch_execute(
            "CREATE TABLE IF NOT EXISTS fleet_migrations (
                 version    bigint PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )?;
        let before: i64 = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM fleet_migrations",
                &[],
            )?
            .get(0);
        for (n, (name, sql)) in (1_i64..).zip(MIGRATIONS) {
            if n <= before {
                continue;
            }
            let mut tx = client.transaction()?;
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO fleet_migrations (version, name) VALUES ($1, $2)",
                &[&n, name],
            )?;
            tx.commit()?;
        }
        client.batch_execute("GRANT SELECT ON fleet_migrations TO veil_nodes")?;
        client.execute("SELECT pg_advisory_unlock($1)", &[&INIT_LOCK])?;
        Ok((before, MIGRATIONS.len() as i64))
    };
    run(&mut client).map_err(|e| {
        format!(
            "applying the registry's schema: {}",
            super::pg::describe(&e)
        )
    })
}

/// A node's role name (`veil_node_` and the name, '-' as '_').
pub fn role_of(node: &str) -> String {
    format!("veil_node_{}", node.replace('-', "_"))
}

/// Registers `node` with a role of its own and a new password (a node registered before
/// gets a new password; its old one stops working). Returns the role and password.
pub fn add_node(owner: &Owner<'_>, node: &str) -> Result<(String, String), String> {
    if !valid_node_name(node) {
        return Err(format!(
            "{node:?} is no node name: 1 to 32 of a-z, 0-9 and '-', starting with a letter or digit"
        ));
    }
    let role = role_of(node);
    let password = new_password()?;
    let mut client = connect(owner)?;
    let run = |client: &mut Client| -> Result<(), postgres::Error> {
        let mut tx = client.transaction()?;
        let exists = tx
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])?
            .is_some();
        // The role is [a-z0-9_] and the password base64url: neither needs quoting beyond this.
        let verb = if exists { "ALTER" } else { "CREATE" };
        tx.batch_execute(&format!(
            "{verb} ROLE \"{role}\" LOGIN PASSWORD '{password}'"
        ))?;
        tx.batch_execute(&format!("GRANT veil_nodes TO \"{role}\""))?;
        tx.execute(
            "INSERT INTO fleet_nodes (name, role) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&node, &role],
        )?;
        tx.commit()
    };
    run(&mut client)
        .map_err(|e| format!("registering node {node}: {}", super::pg::describe(&e)))?;
    Ok((role, password))
}

fn new_password() -> Result<String, String> {
    use base64::Engine as _;
    let mut bytes = [0_u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a password: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_plain_identifiers() {
        assert_eq!(role_of("fra-1"), "veil_node_fra_1");
        let p = new_password().unwrap();
        assert_eq!(p.len(), 32);
        assert!(
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
