//! Cutting a key's open tunnels: the kernel's `SOCK_DESTROY` over `sock_diag` netlink.
//!
//! The core has no call that ends a user's connections; removing the user only stops new
//! handshakes. What the kernel offers instead is to destroy a TCP socket by its address
//! tuple (needs `CAP_NET_ADMIN` and a kernel built with `CONFIG_INET_DIAG_DESTROY`): the
//! core's read or write on it fails and the phone's tunnel ends at once.
//!
//! Only established sockets whose *local* port is the managed inbound's port are ever
//! candidates, and of those only the ones whose peer is one of the given addresses; the
//! API port, SSH and every other socket are never looked at twice. IPv4 clients of a core
//! listening on `::` show up as IPv4-mapped IPv6 sockets; addresses are compared in their
//! canonical form so `::ffff:192.0.2.7` is `192.0.2.7`.
//!
//! Every call here is blocking netlink I/O (answered by the kernel at once); the daemon runs
//! it on a blocking thread.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NetlinkSerializable,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::message::SockDiagDestroy;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

/// How many times a destroy that failed for a passing reason is tried again.
const TRANSIENT_RETRIES: usize = 3;

/// One established TCP connection to a local port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conn {
    pub local: SocketAddr,
    pub peer: SocketAddr,
    id: SocketId,
    family: u8,
}

impl Conn {
    /// The peer's address in canonical form (IPv4-mapped IPv6 as IPv4).
    pub fn peer_ip(&self) -> IpAddr {
        self.peer.ip().to_canonical()
    }
}

/// Whether connections can be cut here, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// The daemon lacks `CAP_NET_ADMIN` (the kernel said EPERM).
    NoCapability,
    /// The kernel has no `CONFIG_INET_DIAG_DESTROY` (it said EOPNOTSUPP).
    NoKernelSupport,
    /// Something else failed (no netlink in the sandbox, say); the text says what.
    Failed(String),
}

impl Availability {
    pub fn is_available(&self) -> bool {
        *self == Availability::Available
    }

    /// Why not (or `available`), for `health`, `veil doctor` and logs.
    pub fn describe(&self) -> String {
        match self {
            Availability::Available => "available".into(),
            Availability::NoCapability => "veild lacks CAP_NET_ADMIN".into(),
            Availability::NoKernelSupport => {
                "the kernel cannot destroy sockets (no CONFIG_INET_DIAG_DESTROY)".into()
            }
            Availability::Failed(why) => why.clone(),
        }
    }
}

/// What one cut did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CutReport {
    /// Connections destroyed.
    pub cut: usize,
    /// The distinct peer addresses they came from.
    pub addresses: usize,
    /// Connections already gone when their turn came (closed by the peer meanwhile).
    pub gone: usize,
    /// Connections that could not be destroyed, with the error.
    pub failed: Vec<(SocketAddr, String)>,
    /// Connections destroyed, by peer address (canonical).
    pub per_address: BTreeMap<IpAddr, usize>,
}

/// Tries the whole path once on a connection of its own (a loopback pair made for the
/// purpose): finding it by dump, then destroying it. What the kernel answers says whether
/// the capability and the kernel support are there.
pub fn probe() -> Availability {
    match probe_inner() {
        Ok(()) => Availability::Available,
        Err(e) => classify(&e),
    }
}

/// Whether this process has `CAP_NET_ADMIN` in its effective set (`CapEff` of
/// `/proc/self/status`, bit 12), for `veil doctor` to say which part is missing.
pub fn has_net_admin() -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

fn probe_inner() -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = listener.local_addr()?.port();
    let _client = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    let (_served, _) = listener.accept()?;
    let conns = established(port)?;
    let conn = conns
        .first()
        .ok_or_else(|| io::Error::other("the probe's own connection is not in the dump"))?;
    destroy(conn)
}

fn classify(e: &io::Error) -> Availability {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => Availability::NoCapability,
        Some(libc::EOPNOTSUPP) => Availability::NoKernelSupport,
        _ => Availability::Failed(e.to_string()),
    }
}

/// Established TCP connections (IPv4 and IPv6) whose local port is `port`.
pub fn established(port: u16) -> io::Result<Vec<Conn>> {
    let socket = open()?;
    let mut out = Vec::new();
    for family in [AF_INET, AF_INET6] {
        let mut id = if family == AF_INET {
            SocketId::new_v4()
        } else {
            SocketId::new_v6()
        };
        id.source_port = port; // a hint; the kernel filters on ports only with bytecode
        let request = InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::ESTABLISHED,
            socket_id: id,
        };
        send(
            &socket,
            NLM_F_REQUEST | NLM_F_DUMP,
            SockDiagMessage::InetRequest(request),
        )?;
        read_dump(&socket, |header| {
            if header.state == TCP_ESTABLISHED && header.socket_id.source_port == port {
                let id = &header.socket_id;
                out.push(Conn {
                    local: SocketAddr::new(id.source_address, id.source_port),
                    peer: SocketAddr::new(id.destination_address, id.destination_port),
                    id: id.clone(),
                    family: header.family,
                });
            }
        })?;
    }
    Ok(out)
}

const TCP_ESTABLISHED: u8 = 1;

/// Destroys one connection (by its exact tuple and cookie).
pub fn destroy(conn: &Conn) -> io::Result<()> {
    let socket = open()?;
    destroy_on(&socket, conn)
}

fn destroy_on(socket: &Socket, conn: &Conn) -> io::Result<()> {
    let request = InetRequest {
        family: conn.family,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states: StateFlags::all(),
        socket_id: conn.id.clone(),
    };
    send(
        socket,
        NLM_F_REQUEST | NLM_F_ACK,
        SockDiagDestroy::new(SockDiagMessage::InetRequest(request)),
    )?;
    loop {
        let (bytes, _) = socket.recv_from_full()?;
        let message = parse::<SockDiagDestroy>(&bytes)?;
        match message.payload {
            NetlinkPayload::Error(e) if e.code.is_none() => return Ok(()),
            NetlinkPayload::Error(e) => return Err(e.to_io()),
            NetlinkPayload::Done(_) => return Ok(()),
            _ => {}
        }
    }
}

/// Destroys every established connection to local `port` whose peer is one of `peers`
/// (compared canonically). A connection that vanished meanwhile counts as gone, not as a
/// failure; a transient error (ENOBUFS, EINTR, EAGAIN) is tried again a few times.
pub fn cut(port: u16, peers: &BTreeSet<IpAddr>) -> io::Result<CutReport> {
    let peers: BTreeSet<IpAddr> = peers.iter().map(IpAddr::to_canonical).collect();
    let mut report = CutReport::default();
    if peers.is_empty() {
        return Ok(report);
    }
    let targets: Vec<Conn> = established(port)?
        .into_iter()
        .filter(|c| peers.contains(&c.peer_ip()))
        .collect();
    let socket = open()?;
    for conn in &targets {
        match destroy_retrying(&socket, conn) {
            Ok(()) => {
                report.cut += 1;
                *report.per_address.entry(conn.peer_ip()).or_default() += 1;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => report.gone += 1,
            Err(e) => report.failed.push((conn.peer, e.to_string())),
        }
    }
    report.addresses = report.per_address.len();
    Ok(report)
}

fn destroy_retrying(socket: &Socket, conn: &Conn) -> io::Result<()> {
    let mut attempt = 0;
    loop {
        match destroy_on(socket, conn) {
            Err(e)
                if attempt < TRANSIENT_RETRIES
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::ENOBUFS | libc::EINTR | libc::EAGAIN | libc::EBUSY)
                    ) =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn open() -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    Ok(socket)
}

fn send<M: NetlinkSerializable>(socket: &Socket, flags: u16, inner: M) -> io::Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(inner));
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    socket.send(&buf, 0)?;
    Ok(())
}

fn parse<M: NetlinkDeserializable>(bytes: &[u8]) -> io::Result<NetlinkMessage<M>> {
    NetlinkMessage::<M>::deserialize(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {e}")))
}

/// Reads a dump's answers (several netlink messages per datagram) until its end.
fn read_dump(
    socket: &Socket,
    mut each: impl FnMut(&netlink_packet_sock_diag::inet::InetResponseHeader),
) -> io::Result<()> {
    loop {
        let (bytes, _) = socket.recv_from_full()?;
        let mut offset = 0;
        while offset < bytes.len() {
            let message = parse::<SockDiagMessage>(&bytes[offset..])?;
            let length = message.header.length as usize;
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => each(&r.header),
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                _ => {}
            }
            if length == 0 {
                break;
            }
            offset += length;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::Ipv6Addr;

    use super::*;

    fn pair(listener: &TcpListener, from: IpAddr) -> (TcpStream, TcpStream) {
        let to = listener.local_addr().unwrap();
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(to),
            socket2::Type::STREAM,
            None,
        )
        .unwrap();
        socket.bind(&SocketAddr::new(from, 0).into()).unwrap();
        socket.connect(&to.into()).unwrap();
        let client: TcpStream = socket.into();
        let (served, _) = listener.accept().unwrap();
        (client, served)
    }

    /// Without CAP_NET_ADMIN the probe must say so (and the cutting tests stop there); with
    /// it, only a kernel without the feature may stop them.
    fn available() -> bool {
        let a = probe();
        if !has_net_admin() {
            assert_eq!(a, Availability::NoCapability);
            return false;
        }
        if a == Availability::NoKernelSupport {
            eprintln!("sock_diag destroy {}", a.describe());
            return false;
        }
        assert_eq!(a, Availability::Available, "{}", a.describe());
        true
    }

    #[test]
    fn cuts_only_the_given_peers_on_the_given_port() {
        if !available() {
            return;
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let other = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let a: IpAddr = Ipv4Addr::new(127, 0, 0, 2).into();
        let b: IpAddr = Ipv4Addr::new(127, 0, 0, 3).into();
        let (mut a1, _a1s) = pair(&listener, a);
        let (mut a2, _a2s) = pair(&listener, a);
        let (mut b1, mut b1s) = pair(&listener, b);
        let (mut a_other, mut a_others) = pair(&other, a);

        let found = established(port).unwrap();
        assert_eq!(found.len(), 3, "{found:?}");
        let report = cut(port, &BTreeSet::from([a])).unwrap();
        assert_eq!((report.cut, report.addresses, report.gone), (2, 1, 0));
        assert!(report.failed.is_empty(), "{:?}", report.failed);

        // Both of a's connections to the port end; b's and a's to another port live on.
        for s in [&mut a1, &mut a2] {
            let mut buf = [0; 1];
            let ended = match s.read(&mut buf) {
                Ok(0) | Err(_) => true,
                Ok(_) => false,
            };
            assert!(ended);
        }
        b1.write_all(b"x").unwrap();
        let mut buf = [0; 1];
        b1s.read_exact(&mut buf).unwrap();
        a_other.write_all(b"y").unwrap();
        a_others.read_exact(&mut buf).unwrap();
        assert_eq!(established(port).unwrap().len(), 1);
    }

    #[test]
    fn mapped_ipv6_peers_are_their_ipv4_address() {
        if !available() {
            return;
        }
        let Ok(listener) = TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)) else {
            return; // no IPv6 here
        };
        let port = listener.local_addr().unwrap().port();
        let v4: IpAddr = Ipv4Addr::new(127, 0, 0, 4).into();
        let to = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&SocketAddr::new(v4, 0).into()).unwrap();
        socket.connect(&to.into()).unwrap();
        let (_served, _) = listener.accept().unwrap();
        let found = established(port).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].peer_ip(), v4);
        assert_eq!(cut(port, &BTreeSet::from([v4])).unwrap().cut, 1);
    }

    #[test]
    fn nothing_given_nothing_cut() {
        assert_eq!(cut(1, &BTreeSet::new()).unwrap(), CutReport::default());
    }
}
