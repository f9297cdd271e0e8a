//! `veil token …`: API tokens of veild's HTTP API.

use clap::{Args, Subcommand};

use super::values;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for the HTTP API and print its secret, once (veild keeps only a hash).
    Add(TokenAddArgs),
    /// List the tokens (never their secrets): read-only, expiry, revocation, last use.
    List,
    /// Revoke a token at once; requests with it are refused from now on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct TokenAddArgs {
    /// A name for the token (ASCII letters, digits, '.', '_', '-'); the audit trail shows it.
    pub name: String,
    /// The token may only read (GET); every change is refused with 403.
    #[arg(long)]
    pub read_only: bool,
    /// When it stops working: a date (2027-01-31), a date and time, or a span (30d, 12h);
    /// default: never.
    #[arg(long, value_name = "WHEN", value_parser = values::expires)]
    pub expires: Option<values::Expiry>,
}
