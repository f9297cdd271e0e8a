//! A fake Xray core: an in-process gRPC server on the `xray.` service names, with user
//! bookkeeping, real error texts and injectable faults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prost::Message;
use tonic::{Request, Response, Status};
use veil_core_proto as pb;
use veil_core_proto::handler_service_server::{HandlerService, HandlerServiceServer};
use veil_core_proto::stats_service_server::{StatsService, StatsServiceServer};
use veild::corelink::{CoreLink, Flavor};

use super::renamed::{Renamed, XrayHandlerNames, XrayStatsNames};
use super::{VLESS_TAG, test_link};

/// A user as the fake core stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeUser {
    pub email: String,
    pub uuid: String,
    pub level: u32,
    pub flow: String,
}

#[derive(Default)]
struct FakeState {
    /// inbound tag -> lower-cased email -> user.
    inbounds: BTreeMap<String, BTreeMap<String, FakeUser>>,
    stats: BTreeMap<String, i64>,
    fail_next: u32,
    /// Alter-inbound calls to refuse as the core refuses a bad user (gRPC UNKNOWN).
    reject_next: u32,
    calls: usize,
    /// AlterInbound calls (user changes) received, refused ones included.
    alters: usize,
    /// Every `TypedMessage.type` string received, in order.
    type_strings: Vec<String>,
    /// Online users: email -> source IP -> last seen (Unix seconds).
    online: BTreeMap<String, BTreeMap<String, i64>>,
    /// Set by [`FakeXrayCore::restart_stats`]: uptime counts from here, like a restarted core.
    restarted_at: Option<Instant>,
}

#[derive(Clone)]
struct Fake {
    state: Arc<Mutex<FakeState>>,
    started: Instant,
}

impl Fake {
    /// Counts the call and applies an injected fault, if any is pending.
    fn enter(&self) -> Result<std::sync::MutexGuard<'_, FakeState>, Status> {
        let mut st = self.state.lock().unwrap();
        st.calls += 1;
        if st.fail_next > 0 {
            st.fail_next -= 1;
            return Err(Status::unavailable("fake core: injected fault"));
        }
        Ok(st)
    }
}

const X_ADD_OP: &str = "xray.app.proxyman.command.AddUserOperation";
const X_REMOVE_OP: &str = "xray.app.proxyman.command.RemoveUserOperation";
const X_VLESS_ACCOUNT: &str = "xray.proxy.vless.Account";

fn handler_not_found(tag: &str) -> Status {
    Status::unknown(format!(
        "app/proxyman/command: failed to get handler: {tag} > app/proxyman/inbound: handler not found: {tag}"
    ))
}

#[tonic::async_trait]
impl HandlerService for Fake {
    async fn alter_inbound(
        &self,
        request: Request<pb::AlterInboundRequest>,
    ) -> Result<Response<pb::AlterInboundResponse>, Status> {
        let req = request.into_inner();
        let mut st = self.enter()?;
        st.alters += 1;
        if st.reject_next > 0 {
            st.reject_next -= 1;
            return Err(Status::unknown(
                "proxy/vless: fake core: this user is refused (injected)",
            ));
        }
        let op = req.operation.unwrap_or_default();
        st.type_strings.push(op.r#type.clone());
        if op.r#type != X_ADD_OP && op.r#type != X_REMOVE_OP {
            return Err(Status::unknown(format!(
                "app/proxyman/command: unknown operation > proto: not found: {}",
                op.r#type
            )));
        }
        if !st.inbounds.contains_key(&req.tag) {
            return Err(handler_not_found(&req.tag));
        }
        if op.r#type == X_ADD_OP {
            let add = pb::AddUserOperation::decode(op.value.as_slice())
                .map_err(|e| Status::unknown(format!("decode: {e}")))?;
            let user = add.user.unwrap_or_default();
            let account = user
                .account
                .ok_or_else(|| Status::unknown("common/protocol: Account is missing"))?;
            st.type_strings.push(account.r#type.clone());
            if account.r#type != X_VLESS_ACCOUNT {
                return Err(Status::unknown(
                    "app/proxyman/command: failed to parse user",
                ));
            }
            let account = pb::VlessAccount::decode(account.value.as_slice())
                .map_err(|e| Status::unknown(format!("decode: {e}")))?;
            let users = st.inbounds.get_mut(&req.tag).unwrap();
            let key = user.email.to_lowercase();
            if users.contains_key(&key) {
                return Err(Status::unknown(format!(
                    "proxy/vless: User {} already exists.",
                    user.email
                )));
            }
            users.insert(
                key,
                FakeUser {
                    email: user.email,
                    uuid: account.id,
                    level: user.level,
                    flow: account.flow,
                },
            );
        } else {
            let remove = pb::RemoveUserOperation::decode(op.value.as_slice())
                .map_err(|e| Status::unknown(format!("decode: {e}")))?;
            let users = st.inbounds.get_mut(&req.tag).unwrap();
            if users.remove(&remove.email.to_lowercase()).is_none() {
                return Err(Status::unknown(format!(
                    "proxy/vless: User {} not found.",
                    remove.email
                )));
            }
        }
        Ok(Response::new(pb::AlterInboundResponse {}))
    }

    async fn get_inbound_users(
        &self,
        request: Request<pb::GetInboundUserRequest>,
    ) -> Result<Response<pb::GetInboundUserResponse>, Status> {
        let req = request.into_inner();
        let st = self.enter()?;
        let users = st
            .inbounds
            .get(&req.tag)
            .ok_or_else(|| handler_not_found(&req.tag))?;
        let to_proto = |u: &FakeUser| pb::User {
            level: u.level,
            email: u.email.clone(),
            account: Some(pb::TypedMessage {
                r#type: X_VLESS_ACCOUNT.to_owned(),
                value: pb::VlessAccount {
                    id: u.uuid.clone(),
                    flow: u.flow.clone(),
                    encryption: String::new(),
                }
                .encode_to_vec(),
            }),
        };
        let users = if req.email.is_empty() {
            users.values().map(to_proto).collect()
        } else {
            // Like Xray: an unknown email yields one all-default user.
            vec![
                users
                    .get(&req.email.to_lowercase())
                    .map(to_proto)
                    .unwrap_or_default(),
            ]
        };
        Ok(Response::new(pb::GetInboundUserResponse { users }))
    }

    async fn get_inbound_users_count(
        &self,
        request: Request<pb::GetInboundUserRequest>,
    ) -> Result<Response<pb::GetInboundUsersCountResponse>, Status> {
        let req = request.into_inner();
        let st = self.enter()?;
        let users = st
            .inbounds
            .get(&req.tag)
            .ok_or_else(|| handler_not_found(&req.tag))?;
        Ok(Response::new(pb::GetInboundUsersCountResponse {
            count: users.len() as i64,
        }))
    }
}

#[tonic::async_trait]
impl StatsService for Fake {
    async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        let req = request.into_inner();
        let mut st = self.enter()?;
        let value = st
            .stats
            .get_mut(&req.name)
            .ok_or_else(|| Status::not_found(format!("{} not found.", req.name)))?;
        let stat = pb::Stat {
            name: req.name.clone(),
            value: *value,
        };
        if req.reset {
            *value = 0;
        }
        Ok(Response::new(pb::GetStatsResponse { stat: Some(stat) }))
    }

    async fn get_stats_online(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        let req = request.into_inner();
        let st = self.enter()?;
        let ips = online_entry(&st, &req.name)?;
        Ok(Response::new(pb::GetStatsResponse {
            stat: Some(pb::Stat {
                name: req.name.clone(),
                value: ips.len() as i64,
            }),
        }))
    }

    async fn query_stats(
        &self,
        request: Request<pb::QueryStatsRequest>,
    ) -> Result<Response<pb::QueryStatsResponse>, Status> {
        let req = request.into_inner();
        let mut st = self.enter()?;
        let mut stat = Vec::new();
        for (name, value) in st
            .stats
            .iter_mut()
            .filter(|(n, _)| n.contains(&req.pattern))
        {
            stat.push(pb::Stat {
                name: name.clone(),
                value: *value,
            });
            if req.reset {
                *value = 0;
            }
        }
        Ok(Response::new(pb::QueryStatsResponse { stat }))
    }

    async fn get_sys_stats(
        &self,
        _request: Request<pb::SysStatsRequest>,
    ) -> Result<Response<pb::SysStatsResponse>, Status> {
        let st = self.enter()?;
        Ok(Response::new(pb::SysStatsResponse {
            uptime: st.restarted_at.unwrap_or(self.started).elapsed().as_secs() as u32,
            num_goroutine: 7,
            alloc: 1 << 20,
            sys: 8 << 20,
            ..Default::default()
        }))
    }

    async fn get_stats_online_ip_list(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsOnlineIpListResponse>, Status> {
        let req = request.into_inner();
        let st = self.enter()?;
        let ips = online_entry(&st, &req.name)?;
        Ok(Response::new(pb::GetStatsOnlineIpListResponse {
            name: req.name.clone(),
            ips: ips.iter().map(|(ip, seen)| (ip.clone(), *seen)).collect(),
        }))
    }

    async fn get_all_online_users(
        &self,
        _request: Request<pb::GetAllOnlineUsersRequest>,
    ) -> Result<Response<pb::GetAllOnlineUsersResponse>, Status> {
        let st = self.enter()?;
        Ok(Response::new(pb::GetAllOnlineUsersResponse {
            users: st
                .online
                .iter()
                .filter(|(_, ips)| !ips.is_empty())
                .map(|(email, _)| format!("user>>>{email}>>>online"))
                .collect(),
        }))
    }
}

/// The online entry of `user>>>EMAIL>>>online`, NOT_FOUND (as Xray) for a user that never
/// connected.
fn online_entry<'a>(st: &'a FakeState, name: &str) -> Result<&'a BTreeMap<String, i64>, Status> {
    name.strip_prefix("user>>>")
        .and_then(|rest| rest.strip_suffix(">>>online"))
        .and_then(|email| st.online.get(email))
        .ok_or_else(|| Status::not_found(format!("{name} not found.")))
}

/// An in-process gRPC server answering on the **xray.** service names, with
/// user bookkeeping, real error texts and injectable faults. It knows one
/// inbound, [`VLESS_TAG`].
pub struct FakeXrayCore {
    addr: SocketAddr,
    fake: Fake,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeXrayCore {
    /// Binds a loopback port and serves on the current tokio runtime.
    pub async fn start() -> FakeXrayCore {
        let mut state = FakeState::default();
        state.inbounds.insert(VLESS_TAG.to_owned(), BTreeMap::new());
        let fake = Fake {
            state: Arc::new(Mutex::new(state)),
            started: Instant::now(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake core");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = tonic::transport::Server::builder()
            .add_service(Renamed::<_, XrayHandlerNames>::new(
                HandlerServiceServer::new(fake.clone()),
            ))
            .add_service(Renamed::<_, XrayStatsNames>::new(StatsServiceServer::new(
                fake.clone(),
            )));
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let task = tokio::spawn(async move {
            let _ = router
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = rx.await;
                })
                .await;
        });
        FakeXrayCore {
            addr,
            fake,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn api_addr(&self) -> String {
        self.addr.to_string()
    }

    /// A link to the fake with the Xray flavor and test timeouts.
    pub fn link(&self) -> CoreLink {
        test_link(Flavor::Xray, &self.api_addr())
    }

    /// Users of `tag`, sorted by lower-cased email.
    pub fn users(&self, tag: &str) -> Vec<FakeUser> {
        let st = self.fake.state.lock().unwrap();
        st.inbounds
            .get(tag)
            .map(|u| u.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Makes the next `n` calls (any RPC) fail with UNAVAILABLE.
    pub fn fail_next(&self, n: u32) {
        self.fake.state.lock().unwrap().fail_next = n;
    }

    /// Makes the next `n` user changes fail as the core's own refusals (not transport).
    pub fn reject_next(&self, n: u32) {
        self.fake.state.lock().unwrap().reject_next = n;
    }

    /// Number of user changes (AlterInbound) received, refused ones included.
    pub fn alter_calls(&self) -> usize {
        self.fake.state.lock().unwrap().alters
    }

    /// Number of RPCs received, including failed ones.
    pub fn calls(&self) -> usize {
        self.fake.state.lock().unwrap().calls
    }

    /// Every `TypedMessage.type` received so far, in order.
    pub fn type_strings(&self) -> Vec<String> {
        self.fake.state.lock().unwrap().type_strings.clone()
    }

    pub fn set_stat(&self, name: &str, value: i64) {
        self.fake
            .state
            .lock()
            .unwrap()
            .stats
            .insert(name.to_owned(), value);
    }

    /// Changes the users of `tag` behind the daemon's back, in one step (one lock, so no
    /// audit sees half of it): removes `remove` (emails) and inserts `add`.
    pub fn tamper(&self, tag: &str, remove: &[&str], add: Vec<FakeUser>) {
        let mut st = self.fake.state.lock().unwrap();
        let users = st.inbounds.get_mut(tag).expect("known inbound");
        for email in remove {
            assert!(
                users.remove(&email.to_lowercase()).is_some(),
                "fake core: no user {email} to remove"
            );
        }
        for user in add {
            users.insert(user.email.to_lowercase(), user);
        }
    }

    /// Sets many counters under one lock (benchmarks with 100,000 keys).
    pub fn set_stats<'a>(&self, stats: impl IntoIterator<Item = (&'a str, i64)>) {
        let mut st = self.fake.state.lock().unwrap();
        for (name, value) in stats {
            st.stats.insert(name.to_owned(), value);
        }
    }

    /// Adds `delta` to every counter whose name contains `pattern` (one lock).
    pub fn bump_stats(&self, pattern: &str, delta: i64) -> usize {
        let mut st = self.fake.state.lock().unwrap();
        let mut n = 0;
        for (_, value) in st
            .stats
            .iter_mut()
            .filter(|(name, _)| name.contains(pattern))
        {
            *value += delta;
            n += 1;
        }
        n
    }

    /// The user `email`'s online IPs (`(ip, last seen)`), as GetStatsOnline and
    /// GetStatsOnlineIpList report them; an empty list leaves an entry with no IPs.
    pub fn set_online(&self, email: &str, ips: &[(&str, i64)]) {
        let mut st = self.fake.state.lock().unwrap();
        st.online.insert(
            email.to_owned(),
            ips.iter()
                .map(|(ip, seen)| ((*ip).to_owned(), *seen))
                .collect(),
        );
    }

    /// Like a core restart for the stats: every counter and online entry is gone and the
    /// uptime starts again from zero. (Users are kept; see [`Self::forget_users`].)
    pub fn restart_stats(&self) {
        let mut st = self.fake.state.lock().unwrap();
        st.stats.clear();
        st.online.clear();
        st.restarted_at = Some(Instant::now());
    }

    /// Seconds the fake reports as its uptime.
    pub fn uptime_secs(&self) -> u64 {
        let st = self.fake.state.lock().unwrap();
        st.restarted_at
            .unwrap_or(self.fake.started)
            .elapsed()
            .as_secs()
    }

    /// Drops every user, as a real core does on restart.
    pub fn forget_users(&self) {
        let mut st = self.fake.state.lock().unwrap();
        for users in st.inbounds.values_mut() {
            users.clear();
        }
    }
}

impl Drop for FakeXrayCore {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
