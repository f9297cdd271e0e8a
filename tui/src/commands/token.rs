//! `veil token add|list|revoke`.

use veil_shared::api::{TokenAdd, TokenList, TokenRevoke};

use crate::cli::token::TokenCommand;
use crate::failure::Failure;
use crate::output;
use crate::session::{Reply, Session};

pub async fn run(session: &mut Session<'_>, cmd: TokenCommand) -> Result<Reply, Failure> {
    match cmd {
        TokenCommand::Add(args) => {
            let params = TokenAdd {
                name: args.name,
                read_only: args.read_only,
                expires_at: args.expires.and_then(|e| e.0),
            };
            let (raw, added) = session.call(params).await?;
            Ok(Reply {
                raw,
                human: output::token::added(&added),
            })
        }
        TokenCommand::List => {
            let (raw, page) = session.call(TokenList {}).await?;
            Ok(Reply {
                raw,
                human: output::token::list(&page),
            })
        }
        TokenCommand::Revoke { name } => {
            let (raw, token) = session.call(TokenRevoke { name }).await?;
            Ok(Reply {
                raw,
                human: output::token::revoked(&token),
            })
        }
    }
}
