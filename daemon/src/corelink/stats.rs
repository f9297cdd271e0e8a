//! Traffic counters and core health (StatsService).

use serde::{Deserialize, Serialize};
use tonic::Code;
use veil_core_proto::{
    GetAllOnlineUsersRequest, GetAllOnlineUsersResponse, GetStatsOnlineIpListResponse,
    GetStatsRequest, GetStatsResponse, QueryStatsRequest, QueryStatsResponse, SysStatsRequest,
    SysStatsResponse,
};

use super::error::CoreError;
use super::flavor::{Flavor, STATS_SERVICE};
use super::link::CoreLink;

/// The core's runtime figures; `uptime_secs` going backwards reveals a core
/// restart, after which every API-added user must be re-added.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct SysStats {
    /// Seconds since the core's stats service started.
    pub uptime_secs: u32,
    pub goroutines: u32,
    pub gc_count: u32,
    /// Bytes of live heap objects.
    pub alloc_bytes: u64,
    pub total_alloc_bytes: u64,
    /// Bytes obtained from the OS.
    pub sys_bytes: u64,
    pub live_objects: u64,
    pub pause_total_ns: u64,
}

impl From<SysStatsResponse> for SysStats {
    fn from(r: SysStatsResponse) -> Self {
        Self {
            uptime_secs: r.uptime,
            goroutines: r.num_goroutine,
            gc_count: r.num_gc,
            alloc_bytes: r.alloc,
            total_alloc_bytes: r.total_alloc,
            sys_bytes: r.sys,
            live_objects: r.live_objects,
            pause_total_ns: r.pause_total_ns,
        }
    }
}

/// One counter of a `QueryStats` answer with its name left as the answer's own bytes: the
/// wire form of the core's `Stat` (`string name = 1; int64 value = 2`), decoded without a
/// `String` per counter (an answer for 100,000 keys has 200,000 of them).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawStat {
    #[prost(bytes = "bytes", tag = "1")]
    pub name: prost::bytes::Bytes,
    #[prost(int64, tag = "2")]
    pub value: i64,
}

/// `QueryStatsResponse` (`repeated Stat stat = 1`) with [`RawStat`]s.
#[derive(Clone, PartialEq, prost::Message)]
struct RawStats {
    #[prost(message, repeated, tag = "1")]
    stat: Vec<RawStat>,
}

impl CoreLink {
    /// [`CoreLink::query_stats`] without reset, the names as bytes (not checked as UTF-8:
    /// the caller matches them against names of its own).
    pub async fn query_stats_raw(&self, pattern: &str) -> Result<Vec<RawStat>, CoreError> {
        self.observed("query_stats", async {
            let request = QueryStatsRequest {
                pattern: pattern.to_owned(),
                reset: false,
            };
            let reply: RawStats = self.unary(STATS_SERVICE, "QueryStats", request).await?;
            Ok(reply.stat)
        })
        .await
    }

    /// Counters whose name contains `pattern` (substring; empty = all), e.g.
    /// `user>>>` for every per-user counter. With `reset`, each is read and
    /// zeroed atomically, which suits periodic traffic accounting.
    ///
    /// A user's counters appear only after its first connection.
    pub async fn query_stats(
        &self,
        pattern: &str,
        reset: bool,
    ) -> Result<Vec<(String, i64)>, CoreError> {
        self.observed("query_stats", async {
            let request = QueryStatsRequest {
                pattern: pattern.to_owned(),
                reset,
            };
            let reply: QueryStatsResponse =
                self.unary(STATS_SERVICE, "QueryStats", request).await?;
            Ok(reply.stat.into_iter().map(|s| (s.name, s.value)).collect())
        })
        .await
    }

    /// One counter by full name; `None` if it does not exist (yet). Cores
    /// report that as NOT_FOUND (new Xray) or UNKNOWN "... not found." (v2ray,
    /// old Xray).
    pub async fn stat(&self, name: &str, reset: bool) -> Result<Option<i64>, CoreError> {
        self.observed("get_stats", async {
            let request = GetStatsRequest {
                name: name.to_owned(),
                reset,
            };
            match self
                .unary::<_, GetStatsResponse>(STATS_SERVICE, "GetStats", request)
                .await
            {
                Ok(reply) => Ok(Some(reply.stat.map_or(0, |s| s.value))),
                Err(CoreError::Rejected { code, .. }) if code == Code::NotFound as i32 => Ok(None),
                Err(e) if e.go_error_text().is_some_and(|m| m.ends_with("not found.")) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// The core's runtime figures; also the cheapest liveness probe.
    pub async fn sys_stats(&self) -> Result<SysStats, CoreError> {
        self.observed("sys_stats", async {
            let reply: SysStatsResponse = self
                .unary(STATS_SERVICE, "GetSysStats", SysStatsRequest {})
                .await?;
            Ok(reply.into())
        })
        .await
    }
}

impl CoreLink {
    /// Distinct source IPs with an open connection for the user `email` (GetStatsOnline,
    /// Xray v24.11.5+, with `statsUserOnline` in the user's policy level). `None` when the
    /// core has no online entry for the user (never connected since the core started).
    pub async fn online_count(&self, email: &str) -> Result<Option<u64>, CoreError> {
        self.observed("online_count", async {
            if self.flavor() == Flavor::V2fly {
                return Err(CoreError::Unsupported(
                    "GetStatsOnline (needs Xray v24.11.5+)",
                ));
            }
            let request = GetStatsRequest {
                name: format!("user>>>{email}>>>online"),
                reset: false,
            };
            match self
                .unary::<_, GetStatsResponse>(STATS_SERVICE, "GetStatsOnline", request)
                .await
            {
                Ok(reply) => Ok(Some(reply.stat.map_or(0, |s| s.value.max(0) as u64))),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// The source IPs of the user's open connections with when each was last seen (Unix
    /// seconds; GetStatsOnlineIpList, Xray v25.2.18+). `None` as for [`Self::online_count`].
    pub async fn online_ips(&self, email: &str) -> Result<Option<Vec<(String, i64)>>, CoreError> {
        self.observed("online_ips", async {
            if self.flavor() == Flavor::V2fly {
                return Err(CoreError::Unsupported(
                    "GetStatsOnlineIpList (needs Xray v25.2.18+)",
                ));
            }
            let request = GetStatsRequest {
                name: format!("user>>>{email}>>>online"),
                reset: false,
            };
            match self
                .unary::<_, GetStatsOnlineIpListResponse>(
                    STATS_SERVICE,
                    "GetStatsOnlineIpList",
                    request,
                )
                .await
            {
                Ok(reply) => {
                    let mut ips: Vec<(String, i64)> = reply.ips.into_iter().collect();
                    ips.sort();
                    Ok(Some(ips))
                }
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }
}

impl CoreLink {
    /// The emails of the users with an open connection (GetAllOnlineUsers, Xray v26.1.13+).
    pub async fn online_users(&self) -> Result<Vec<String>, CoreError> {
        self.observed("online_users", async {
            if self.flavor() == Flavor::V2fly {
                return Err(CoreError::Unsupported(
                    "GetAllOnlineUsers (needs Xray v26.1.13+)",
                ));
            }
            let reply = self
                .unary::<_, GetAllOnlineUsersResponse>(
                    STATS_SERVICE,
                    "GetAllOnlineUsers",
                    GetAllOnlineUsersRequest {},
                )
                .await?;
            Ok(reply
                .users
                .iter()
                .filter_map(|name| {
                    let email = name.strip_prefix("user>>>")?.strip_suffix(">>>online")?;
                    Some(email.to_owned())
                })
                .collect())
        })
        .await
    }
}

/// NOT_FOUND (new Xray) or UNKNOWN "... not found." (older cores).
fn is_not_found(e: &CoreError) -> bool {
    matches!(e, CoreError::Rejected { code, .. } if *code == Code::NotFound as i32)
        || e.go_error_text().is_some_and(|m| m.ends_with("not found."))
}
