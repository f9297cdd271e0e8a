//! User operations on an inbound: add, remove, list (HandlerService).

use prost::Message;
use serde::{Deserialize, Serialize};
use veil_core_proto::{
    AddUserOperation, AlterInboundRequest, AlterInboundResponse, GetInboundUserRequest,
    GetInboundUserResponse, GetInboundUsersCountResponse, RemoveUserOperation, TypedMessage, User,
    VlessAccount,
};

use super::error::CoreError;
use super::flavor::{Flavor, FlavorApi as _, HANDLER_SERVICE};
use super::link::CoreLink;

/// Package-relative type names that the core resolves from `TypedMessage.type`.
const ADD_USER_OP: &str = "app.proxyman.command.AddUserOperation";
const REMOVE_USER_OP: &str = "app.proxyman.command.RemoveUserOperation";
const VLESS_ACCOUNT: &str = "proxy.vless.Account";

/// Both cores report duplicates and misses as plain Go errors (gRPC code 2)
/// whose prefix differs by core; only these suffixes are stable.
const DUPLICATE_SUFFIX: &str = "already exists.";
const MISSING_SUFFIX: &str = "not found.";

/// A VLESS user as the core sees it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct CoreUser {
    /// The user's key in the core (removal, stats names). The core compares it
    /// case-insensitively; the daemon derives it from the immutable key id.
    pub email: String,
    /// VLESS id, lower-case canonical UUID.
    pub uuid: String,
    /// Policy level; must enable per-user stats in the core's config.
    pub level: u32,
    /// `""` or `"xtls-rprx-vision"` (v2ray 4.34 ignores it).
    pub flow: String,
}

/// Result of adding a user; a duplicate is not an error because re-adding
/// after a daemon restart is routine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    /// A user with this email (case-insensitive) was already in the inbound.
    AlreadyPresent,
}

/// Result of removing a user; removing an absent user is not an error because
/// the core forgets every user when it restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoveOutcome {
    Removed,
    WasAbsent,
}

fn pack<M: Message>(flavor: Flavor, relative: &str, message: &M) -> TypedMessage {
    TypedMessage {
        r#type: flavor.type_name(relative),
        value: message.encode_to_vec(),
    }
}

impl CoreUser {
    /// Nested encoding the core expects: Account inside a TypedMessage inside
    /// the User. `encryption` stays empty: the core requires that for
    /// inbound users.
    fn to_proto(&self, flavor: Flavor) -> User {
        let account = VlessAccount {
            id: self.uuid.clone(),
            flow: self.flow.clone(),
            encryption: String::new(),
        };
        User {
            level: self.level,
            email: self.email.clone(),
            account: Some(pack(flavor, VLESS_ACCOUNT, &account)),
        }
    }

    /// `None` for the all-default entry Xray returns for an unknown email.
    fn from_proto(flavor: Flavor, user: User) -> Result<Option<Self>, CoreError> {
        if user.email.is_empty() {
            return Ok(None);
        }
        let account = match user.account {
            Some(typed) if typed.r#type == flavor.type_name(VLESS_ACCOUNT) => {
                VlessAccount::decode(typed.value.as_slice()).map_err(|e| {
                    CoreError::Protocol(format!("bad VLESS account for {}: {e}", user.email))
                })?
            }
            Some(typed) => {
                return Err(CoreError::Protocol(format!(
                    "user {} has a non-VLESS account {:?}",
                    user.email, typed.r#type
                )));
            }
            None => VlessAccount::default(),
        };
        Ok(Some(Self {
            email: user.email,
            uuid: account.id,
            level: user.level,
            flow: account.flow,
        }))
    }
}

impl CoreLink {
    async fn alter_inbound(&self, tag: &str, operation: TypedMessage) -> Result<(), CoreError> {
        let request = AlterInboundRequest {
            tag: tag.to_owned(),
            operation: Some(operation),
        };
        self.unary::<_, AlterInboundResponse>(HANDLER_SERVICE, "AlterInbound", request)
            .await
            .map(|_| ())
    }

    /// Adds `user` to the inbound tagged `inbound_tag`. Users added this way
    /// live only in the core's memory and vanish when it restarts.
    pub async fn add_user(
        &self,
        inbound_tag: &str,
        user: &CoreUser,
    ) -> Result<AddOutcome, CoreError> {
        self.observed("add_user", async {
            let op = AddUserOperation {
                user: Some(user.to_proto(self.flavor())),
            };
            match self
                .alter_inbound(inbound_tag, pack(self.flavor(), ADD_USER_OP, &op))
                .await
            {
                Ok(()) => Ok(AddOutcome::Added),
                Err(e)
                    if e.go_error_text()
                        .is_some_and(|m| m.ends_with(DUPLICATE_SUFFIX)) =>
                {
                    Ok(AddOutcome::AlreadyPresent)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Removes the user with `email` (case-insensitive) from the inbound.
    /// Connections the user already has open are not cut by the core.
    pub async fn remove_user(
        &self,
        inbound_tag: &str,
        email: &str,
    ) -> Result<RemoveOutcome, CoreError> {
        self.observed("remove_user", async {
            let op = RemoveUserOperation {
                email: email.to_owned(),
            };
            match self
                .alter_inbound(inbound_tag, pack(self.flavor(), REMOVE_USER_OP, &op))
                .await
            {
                Ok(()) => Ok(RemoveOutcome::Removed),
                Err(e)
                    if e.go_error_text()
                        .is_some_and(|m| m.ends_with(MISSING_SUFFIX)) =>
                {
                    Ok(RemoveOutcome::WasAbsent)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// All users of the inbound as the core currently holds them (Xray only).
    pub async fn inbound_users(&self, inbound_tag: &str) -> Result<Vec<CoreUser>, CoreError> {
        self.observed("inbound_users", async {
            if !self.flavor().supports_inbound_users() {
                return Err(CoreError::Unsupported(
                    "GetInboundUsers (needs Xray v24.11.5+)",
                ));
            }
            let request = GetInboundUserRequest {
                tag: inbound_tag.to_owned(),
                email: String::new(),
            };
            let reply: GetInboundUserResponse = self
                .unary(HANDLER_SERVICE, "GetInboundUsers", request)
                .await?;
            let mut users = Vec::with_capacity(reply.users.len());
            for user in reply.users {
                if let Some(user) = CoreUser::from_proto(self.flavor(), user)? {
                    users.push(user);
                }
            }
            Ok(users)
        })
        .await
    }

    /// Number of users in the inbound (Xray only); cheaper than listing them.
    pub async fn inbound_users_count(&self, inbound_tag: &str) -> Result<u64, CoreError> {
        self.observed("inbound_users_count", async {
            if !self.flavor().supports_inbound_users() {
                return Err(CoreError::Unsupported(
                    "GetInboundUsersCount (needs Xray v24.11.5+)",
                ));
            }
            let request = GetInboundUserRequest {
                tag: inbound_tag.to_owned(),
                email: String::new(),
            };
            let reply: GetInboundUsersCountResponse = self
                .unary(HANDLER_SERVICE, "GetInboundUsersCount", request)
                .await?;
            u64::try_from(reply.count)
                .map_err(|_| CoreError::Protocol(format!("negative user count {}", reply.count)))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_round_trips_through_the_nested_encoding() {
        let user = CoreUser {
            email: "key-1@veil".into(),
            uuid: "b831381d-6324-4d53-ad4f-8cda48b30811".into(),
            level: 0,
            flow: "xtls-rprx-vision".into(),
        };
        let proto = user.to_proto(Flavor::Xray);
        assert_eq!(
            proto.account.as_ref().map(|a| a.r#type.as_str()),
            Some("xray.proxy.vless.Account")
        );
        let back = CoreUser::from_proto(Flavor::Xray, proto).ok().flatten();
        assert_eq!(back, Some(user));
        let empty = CoreUser::from_proto(Flavor::Xray, User::default())
            .ok()
            .flatten();
        assert_eq!(empty, None);
    }
}
