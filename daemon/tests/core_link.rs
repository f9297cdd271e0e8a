//! The core link against a real v2ray 4.34 (`v2ray.core.` names) and against a
//! fake Xray core (`xray.` names).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use support::core_harness::{
    FakeXrayCore, HttpFileServer, V2rayClient, V2rayServer, VLESS_TAG, free_port, test_bytes,
    test_link,
};
use veild::corelink::{AddOutcome, CoreError, CoreUser, Flavor, RemoveOutcome};

const MIB: usize = 1024 * 1024;

fn user(key: u32, uuid: &str) -> CoreUser {
    CoreUser {
        email: format!("key-{key}@veil"),
        uuid: uuid.to_owned(),
        level: 0,
        flow: String::new(),
    }
}

/// `fetch` blocks; keep the runtime's other worker free meanwhile.
fn fetch(client: &V2rayClient, url: &str) -> anyhow::Result<Vec<u8>> {
    tokio::task::block_in_place(|| client.fetch(url))
}

/// One round trip through an open tunnel to an echo server (blocking).
fn echo_once(tunnel: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    tokio::task::block_in_place(|| {
        tunnel.write_all(msg)?;
        let mut back = vec![0u8; msg.len()];
        tunnel.read_exact(&mut back).map(|()| back)
    })
}

/// Polls `user>>>EMAIL>>>traffic>>>downlink` until it reaches `at_least`
/// (bounded), returning the last value seen.
async fn downlink_of(link: &veild::corelink::CoreLink, email: &str, at_least: i64) -> i64 {
    let name = format!("user>>>{email}>>>traffic>>>downlink");
    let mut last = -1;
    for _ in 0..30 {
        let stats = link
            .query_stats(&format!("user>>>{email}>>>"), false)
            .await
            .unwrap();
        last = stats
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(-1, |(_, v)| *v);
        if last >= at_least {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2ray_add_download_duplicate_remove_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let body = test_bytes(MIB, 42);
    let files = HttpFileServer::start(body.clone());
    let server = V2rayServer::start(dir.path(), &[]).await;
    let link = server.link();
    let alice = user(42, "6f1c3a52-7d0e-4b8a-9a51-2f0b8d1e4c77");

    assert_eq!(
        link.add_user(VLESS_TAG, &alice).await.unwrap(),
        AddOutcome::Added
    );

    let client = V2rayClient::start(dir.path(), server.vless_port(), &alice.uuid);
    let got = fetch(&client, &files.url()).unwrap_or_else(|e| panic!("{e:#}\n{}", server.log()));
    assert!(got == body, "downloaded bytes differ from the served file");

    // Same email again, even in another case: the core keeps one user.
    assert_eq!(
        link.add_user(VLESS_TAG, &alice).await.unwrap(),
        AddOutcome::AlreadyPresent
    );
    let shouting = CoreUser {
        email: alice.email.to_uppercase(),
        ..alice.clone()
    };
    assert_eq!(
        link.add_user(VLESS_TAG, &shouting).await.unwrap(),
        AddOutcome::AlreadyPresent
    );

    // Traffic is attributed to the email; downlink covers the whole body.
    let downlink = downlink_of(&link, &alice.email, MIB as i64).await;
    assert!(
        downlink >= MIB as i64,
        "downlink counter {downlink} < {MIB}"
    );
    let stats = link
        .query_stats("user>>>key-42@veil>>>", false)
        .await
        .unwrap();
    assert!(
        stats
            .iter()
            .any(|(n, v)| n == "user>>>key-42@veil>>>traffic>>>uplink" && *v > 0),
        "{stats:?}"
    );

    assert_eq!(
        link.remove_user(VLESS_TAG, &alice.email).await.unwrap(),
        RemoveOutcome::Removed
    );

    // A fresh client process (fresh connections) is refused now...
    let served_before = files.served();
    let fresh = V2rayClient::start(dir.path(), server.vless_port(), &alice.uuid);
    // (v2ray's http inbound answers 503 within milliseconds: the server
    // closes a VLESS connection with an unknown id right away.)
    assert!(
        fetch(&fresh, &files.url()).is_err(),
        "removed user could still download"
    );
    // ...and so is a new connection from the client that worked before.
    assert!(
        fetch(&client, &files.url()).is_err(),
        "old client still downloads"
    );
    assert_eq!(
        files.served(),
        served_before,
        "request reached the file server"
    );

    assert_eq!(
        link.remove_user(VLESS_TAG, &alice.email).await.unwrap(),
        RemoveOutcome::WasAbsent
    );
    // Counters outlive the user (until the core restarts).
    assert!(downlink_of(&link, &alice.email, 0).await >= MIB as i64);
}

/// Removal is not revocation of live connections: VLESS authenticates a
/// connection once, at its start, so a tunnel opened before the removal
/// keeps working. The daemon cannot cut it through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2ray_removed_user_keeps_an_already_open_connection() {
    let dir = tempfile::tempdir().unwrap();
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    let echo_thread = std::thread::spawn(move || {
        let (mut conn, _) = echo.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 1024];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 || conn.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let server = V2rayServer::start(dir.path(), &[]).await;
    let link = server.link();
    let bob = user(7, "0c9d4e2a-1b3f-4a6d-8e5c-7f2a9b1d3e60");
    assert_eq!(
        link.add_user(VLESS_TAG, &bob).await.unwrap(),
        AddOutcome::Added
    );
    let client = V2rayClient::start(dir.path(), server.vless_port(), &bob.uuid);

    let mut tunnel = TcpStream::connect(client.proxy_addr()).unwrap();
    tunnel
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        tunnel,
        "CONNECT 127.0.0.1:{echo_port} HTTP/1.1\r\nHost: 127.0.0.1:{echo_port}\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
        tunnel.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).contains(" 200 "), "{head:?}");
    assert_eq!(echo_once(&mut tunnel, b"before").unwrap(), b"before");

    assert_eq!(
        link.remove_user(VLESS_TAG, &bob.email).await.unwrap(),
        RemoveOutcome::Removed
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        echo_once(&mut tunnel, b"after removal").unwrap(),
        b"after removal"
    );

    drop(tunnel);
    drop(client);
    echo_thread.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2ray_kill9_restart_forgets_users_and_resets_uptime() {
    let dir = tempfile::tempdir().unwrap();
    let body = test_bytes(64 * 1024, 9);
    let files = HttpFileServer::start(body.clone());
    let mut server = V2rayServer::start(dir.path(), &[]).await;
    let link = server.link();
    let carol = user(3, "9b2e7c41-5d8a-4f3b-b6e2-1a7c9d0e5f24");
    assert_eq!(
        link.add_user(VLESS_TAG, &carol).await.unwrap(),
        AddOutcome::Added
    );
    let client = V2rayClient::start(dir.path(), server.vless_port(), &carol.uuid);
    assert!(fetch(&client, &files.url()).unwrap() == body);

    // Let uptime reach 2 s so a reset is observable (uptime has 1 s steps).
    let mut before = link.sys_stats().await.unwrap();
    for _ in 0..40 {
        if before.uptime_secs >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        before = link.sys_stats().await.unwrap();
    }
    assert!(before.uptime_secs >= 2, "{before:?}");
    assert!(before.alloc_bytes > 0 && before.sys_bytes > 0 && before.goroutines > 0);

    server.kill9();
    // A dead core shows up as CANCELLED ("operation was canceled") from
    // tonic, not UNAVAILABLE; both are transport failures.
    let down = link.sys_stats().await;
    assert!(matches!(down, Err(CoreError::Transport(_))), "{down:?}");

    server.restart().await;
    // The old link reconnects by itself; a second try covers a stale connection.
    let mut after = link.sys_stats().await;
    for _ in 0..4 {
        if after.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = link.sys_stats().await;
    }
    let after = after.unwrap();
    assert!(
        after.uptime_secs < before.uptime_secs,
        "{after:?} vs {before:?}"
    );

    // API-added users do not survive a restart...
    let fresh = V2rayClient::start(dir.path(), server.vless_port(), &carol.uuid);
    assert!(fetch(&fresh, &files.url()).is_err());
    assert_eq!(
        link.remove_user(VLESS_TAG, &carol.email).await.unwrap(),
        RemoveOutcome::WasAbsent
    );
    // ...and neither do their counters.
    assert!(link.query_stats("user>>>", false).await.unwrap().is_empty());
    // Re-adding works and the user can download again.
    assert_eq!(
        link.add_user(VLESS_TAG, &carol).await.unwrap(),
        AddOutcome::Added
    );
    assert!(fetch(&fresh, &files.url()).unwrap() == body);
}

#[tokio::test]
async fn v2ray_rejections_and_unsupported_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = V2rayServer::start(
        dir.path(),
        &[("e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8", "static@veil")],
    )
    .await;
    let link = server.link();

    // A user from the config file is a normal user for the API.
    let dup = user(1, "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8");
    let dup = CoreUser {
        email: "static@veil".into(),
        ..dup
    };
    assert_eq!(
        link.add_user(VLESS_TAG, &dup).await.unwrap(),
        AddOutcome::AlreadyPresent
    );

    match link
        .add_user(
            "no-such-inbound",
            &user(1, "8d3f0a6e-2c4b-4e1d-9f7a-5b6c8e0d2a13"),
        )
        .await
    {
        Err(CoreError::Rejected { code: 2, message }) => {
            assert!(message.contains("handler not found"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    match link
        .add_user(
            VLESS_TAG,
            &user(2, "not-a-uuid-but-way-too-long-to-be-a-name!"),
        )
        .await
    {
        Err(CoreError::Rejected { code: 2, message }) => {
            assert!(message.contains("failed to parse"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        link.inbound_users(VLESS_TAG).await,
        Err(CoreError::Unsupported(_))
    ));
    assert!(matches!(
        link.inbound_users_count(VLESS_TAG).await,
        Err(CoreError::Unsupported(_))
    ));
    // Counters exist only after traffic; absence is not an error.
    assert_eq!(
        link.stat("user>>>nobody@veil>>>traffic>>>downlink", false)
            .await
            .unwrap(),
        None
    );
    assert!(
        link.stat("inbound>>>vless-in>>>traffic>>>downlink", false)
            .await
            .unwrap()
            .is_some()
    );
    // Speaking Xray names to v2ray is refused, not mistaken for an outage.
    let wrong = test_link(Flavor::Xray, &server.api_addr());
    match wrong.sys_stats().await {
        Err(CoreError::Rejected { code: 12, message }) => {
            assert!(message.contains("unknown service"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_dead_port_is_a_transport_failure() {
    let link = test_link(Flavor::V2fly, &format!("127.0.0.1:{}", free_port()));
    assert!(matches!(
        link.sys_stats().await,
        Err(CoreError::Transport(_))
    ));
    let added = link
        .add_user(VLESS_TAG, &user(1, "8d3f0a6e-2c4b-4e1d-9f7a-5b6c8e0d2a13"))
        .await;
    assert!(matches!(added, Err(CoreError::Transport(_))), "{added:?}");
}

#[tokio::test]
async fn fake_xray_add_remove_and_list_users() {
    let core = FakeXrayCore::start().await;
    let link = core.link();
    let dave = CoreUser {
        flow: "xtls-rprx-vision".into(),
        level: 1,
        ..user(11, "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d")
    };

    assert_eq!(
        link.add_user(VLESS_TAG, &dave).await.unwrap(),
        AddOutcome::Added
    );
    assert_eq!(
        core.type_strings(),
        [
            "xray.app.proxyman.command.AddUserOperation",
            "xray.proxy.vless.Account"
        ]
    );
    let stored = core.users(VLESS_TAG);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (
            stored[0].email.as_str(),
            stored[0].uuid.as_str(),
            stored[0].flow.as_str(),
            stored[0].level
        ),
        ("key-11@veil", dave.uuid.as_str(), "xtls-rprx-vision", 1)
    );
    assert_eq!(
        link.add_user(VLESS_TAG, &dave).await.unwrap(),
        AddOutcome::AlreadyPresent
    );

    let erin = user(12, "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b");
    assert_eq!(
        link.add_user(VLESS_TAG, &erin).await.unwrap(),
        AddOutcome::Added
    );
    assert_eq!(
        link.inbound_users(VLESS_TAG).await.unwrap(),
        vec![dave.clone(), erin.clone()]
    );
    assert_eq!(link.inbound_users_count(VLESS_TAG).await.unwrap(), 2);

    assert_eq!(
        link.remove_user(VLESS_TAG, &dave.email).await.unwrap(),
        RemoveOutcome::Removed
    );
    assert_eq!(
        core.type_strings().last().map(String::as_str),
        Some("xray.app.proxyman.command.RemoveUserOperation")
    );
    assert_eq!(
        link.remove_user(VLESS_TAG, &dave.email).await.unwrap(),
        RemoveOutcome::WasAbsent
    );
    assert_eq!(link.inbound_users(VLESS_TAG).await.unwrap(), vec![erin]);

    assert!(matches!(
        link.inbound_users("nope").await,
        Err(CoreError::Rejected { code: 2, .. })
    ));
    // v2ray names against an Xray-only server: UNIMPLEMENTED, a rejection.
    let v2 = test_link(Flavor::V2fly, &core.api_addr());
    assert!(matches!(
        v2.remove_user(VLESS_TAG, "key-12@veil").await,
        Err(CoreError::Rejected { code: 12, .. })
    ));
}

#[tokio::test]
async fn fake_xray_stats() {
    let core = FakeXrayCore::start().await;
    let link = core.link();
    core.set_stat("user>>>key-1@veil>>>traffic>>>downlink", 5000);
    core.set_stat("user>>>key-1@veil>>>traffic>>>uplink", 300);
    core.set_stat("inbound>>>vless-in>>>traffic>>>downlink", 9000);

    let mut users = link.query_stats("user>>>", true).await.unwrap();
    users.sort();
    assert_eq!(
        users,
        [
            ("user>>>key-1@veil>>>traffic>>>downlink".to_owned(), 5000),
            ("user>>>key-1@veil>>>traffic>>>uplink".to_owned(), 300)
        ]
    );
    let again = link.query_stats("user>>>", false).await.unwrap();
    assert!(
        again.iter().all(|(_, v)| *v == 0),
        "reset did not zero: {again:?}"
    );
    assert_eq!(
        link.stat("inbound>>>vless-in>>>traffic>>>downlink", false)
            .await
            .unwrap(),
        Some(9000)
    );
    assert_eq!(
        link.stat("user>>>ghost@veil>>>traffic>>>uplink", false)
            .await
            .unwrap(),
        None
    );
    let sys = link.sys_stats().await.unwrap();
    assert_eq!((sys.goroutines, sys.alloc_bytes), (7, 1 << 20));
}

#[tokio::test]
async fn fake_xray_retry_recovers_after_injected_unavailable() {
    let core = FakeXrayCore::start().await;
    let link = core.link();
    let frank = user(21, "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d");

    core.fail_next(1);
    assert!(matches!(
        link.add_user(VLESS_TAG, &frank).await,
        Err(CoreError::Transport(_))
    ));
    assert!(core.users(VLESS_TAG).is_empty());

    // Two failures, then the same call goes through: once, whatever came before.
    core.fail_next(2);
    let calls = core.calls();
    for _ in 0..2 {
        let failed = link.add_user(VLESS_TAG, &frank).await;
        assert!(matches!(failed, Err(CoreError::Transport(_))), "{failed:?}");
    }
    assert_eq!(
        link.add_user(VLESS_TAG, &frank).await.unwrap(),
        AddOutcome::Added
    );
    assert_eq!(core.calls() - calls, 3);
    assert_eq!(core.users(VLESS_TAG).len(), 1);

    core.fail_next(1);
    let result = link.remove_user(VLESS_TAG, &frank.email).await;
    assert!(matches!(result, Err(CoreError::Transport(_))), "{result:?}");
    assert_eq!(core.users(VLESS_TAG).len(), 1, "no call got through");

    // After a simulated core restart the user is re-added, not duplicated.
    core.forget_users();
    assert_eq!(
        link.add_user(VLESS_TAG, &frank).await.unwrap(),
        AddOutcome::Added
    );
}
