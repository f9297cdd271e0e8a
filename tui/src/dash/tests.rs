//! Whole-screen tests on ratatui's `TestBackend` with fixed data: an insta snapshot of
//! every screen at 80×24 and 120×40, separate assertions where color carries meaning, and
//! `update` driven by messages (no terminal, no socket).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use uuid::Uuid;
use veil_shared::api::{
    Actor, ConfigFileHealth, CoreHealth, CoreStatus, DatabaseHealth, Event, Health, KeyAction,
    KeyCounts, KeyEvent as DaemonKeyEvent, ResyncInfo,
};
use veil_shared::model::{DisableReason, Key, KeyState};
use veil_shared::traffic::{
    KeyTraffic, KeyTrafficDetail, Online, OnlineIp, ResetSchedule, Resolution, TrafficBucket,
    TrafficEvent, TrafficHistoryPage, TrafficTick,
};

use super::app::{
    App, Confirm, Conn, Detail, Load, LogEntry, LogKind, Popup, RateSample, SortBy, Today, Traffic,
    View,
};
use super::event::{Action, CallError, Cmd, Effect, Msg, Reply};
use super::form::Form;
use super::theme::Theme;
use super::ui;
use super::update::{Outcome, reorder, update};

/// 2026-11-26 16:03:00 UTC.
pub(crate) const NOW: i64 = 1_795_708_980;
const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// A key with plain values; tests change the fields they care about.
pub(crate) fn key(id: i64, name: &str) -> Key {
    Key {
        id,
        uuid: Uuid::from_u128(0x6f1c1f4e_8a5e_4d43_9a57_1b0a4b3c2d00 + id as u128),
        name: name.to_owned(),
        note: String::new(),
        created_at: NOW - 30 * 86_400,
        updated_at: NOW - 86_400,
        state: KeyState::Active,
        applied: Some(KeyState::Active),
        pending: false,
        disable_reason: None,
        data_limit: None,
        expires_at: None,
        apply_error: None,
        nodes: None,
    }
}

fn health(status: CoreStatus) -> Health {
    Health {
        disconnect: None,
        fleet: None,
        version: "0.1.0".into(),
        protocol: 1,
        pid: 4242,
        uptime_secs: 7_500,
        database: DatabaseHealth {
            ok: true,
            path: "/var/lib/veil/veil.db".into(),
            keys: KeyCounts {
                active: 5,
                disabled: 3,
                deleted: 1,
            },
            error: None,
        },
        core: CoreHealth {
            status,
            flavor: "v2fly".into(),
            api: "127.0.0.1:10085".into(),
            uptime_secs: (status == CoreStatus::Up).then_some(11_520),
            memory_bytes: (status == CoreStatus::Up).then_some(8 * MIB + 300 * 1024),
            last_error: (status == CoreStatus::Down)
                .then(|| "connection refused (127.0.0.1:10085)".to_owned()),
            last_resync: Some(ResyncInfo {
                at: NOW - 120,
                duration_ms: 12,
                keys: 5,
                reason: "start".into(),
            }),
            drift: None,
        },
        pending: 1,
        refused: 0,
        config: Some(ConfigFileHealth {
            path: "/usr/local/etc/xray/config.json".into(),
            writes: 3,
            last_write_at: Some(NOW - 60),
            last_error: None,
            unmanaged_clients: vec![],
            behind: 0,
            behind_since: None,
        }),
        http: None,
        webhooks: Vec::new(),
    }
}

fn keys() -> Vec<Key> {
    let mut masha = key(1, "Маша 🦊");
    masha.note = "her phone".into();
    masha.data_limit = Some(10 * GIB);
    let mut office = key(2, "Office 東京");
    office.expires_at = Some(NOW + 2 * 86_400);
    let mut g1 = key(3, "guest-1");
    g1.state = KeyState::Disabled;
    g1.applied = Some(KeyState::Disabled);
    g1.disable_reason = Some(DisableReason::Manual);
    let mut g2 = key(4, "guest-2");
    g2.state = KeyState::Disabled;
    g2.disable_reason = Some(DisableReason::Limited);
    g2.data_limit = Some(GIB);
    let mut g3 = key(5, "guest-3");
    g3.state = KeyState::Disabled;
    g3.disable_reason = Some(DisableReason::Expired);
    g3.expires_at = Some(NOW - 3_600);
    let mut laptop = key(6, "laptop");
    laptop.pending = true;
    laptop.applied = None;
    laptop.note = "work laptop, Berlin".into();
    let mut tv = key(7, "living-room-tv-with-a-rather-long-name");
    tv.data_limit = Some(500 * MIB);
    let dad = key(8, "dad");
    vec![masha, office, g1, g2, g3, laptop, tv, dad]
}

fn traffic() -> Vec<(i64, Traffic)> {
    let t = |up: u64, down: u64, ur: u64, dr: u64, ago: Option<i64>| Traffic {
        uplink: up,
        downlink: down,
        uplink_rate: ur,
        downlink_rate: dr,
        last_active: ago.map(|a| NOW - a),
    };
    vec![
        (1, t(300 * MIB, 6 * GIB, 40 * 1024, 2 * MIB, Some(0))),
        (2, t(20 * MIB, 900 * MIB, 8 * 1024, 600 * 1024, Some(0))),
        (3, t(0, 0, 0, 0, None)),
        (4, t(100 * MIB, GIB, 0, 0, Some(7_200))),
        (5, t(0, 12 * MIB, 0, 0, Some(10 * 86_400))),
        (6, t(0, 0, 0, 0, None)),
        (7, t(10 * MIB, 440 * MIB, 1024, 90 * 1024, Some(0))),
        (8, t(2 * MIB, 30 * MIB, 0, 0, Some(300))),
    ]
}

/// The dashboard as it looks connected to a busy small server.
pub(crate) fn fixture(theme: Theme, width: u16, height: u16) -> App {
    let mut app = App::new(
        PathBuf::from("/run/veil/veil.sock"),
        theme,
        NOW,
        width,
        height,
    );
    app.conn = Conn::Up {
        version: "0.1.0".into(),
    };
    app.health = Some(health(CoreStatus::Up));
    app.keys = keys();
    app.index = app
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.id, i))
        .collect();
    app.keys_loaded = true;
    app.traffic = traffic().into_iter().collect();
    app.traffic_supported = Some(true);
    app.poll_interval_ms = 1_000;
    for i in 0..120i64 {
        let wave = u64::try_from((i * 7) % 23).unwrap() * 150 * 1024;
        app.rates.push_back(RateSample {
            at: NOW - 120 + i,
            uplink: wave / 10,
            downlink: wave,
        });
    }
    app.rate_now = (49 * 1024, 2 * MIB + 690 * 1024);
    app.busiest = vec![1, 2, 7];
    app.last_traffic_at = Some(NOW);
    app.today = Some(Today {
        day: NOW - NOW.rem_euclid(86_400),
        uplink: 1_288 * MIB,
        downlink: 10 * GIB + 300 * MIB,
        complete: true,
    });
    let log = [
        (NOW - 3_000, LogKind::Key, "key.create Маша 🦊 by uid 1000"),
        (
            NOW - 2_000,
            LogKind::Key,
            "key 4 “guest-2” disabled (limited) by veild",
        ),
        (
            NOW - 900,
            LogKind::Error,
            "core down: connection refused (127.0.0.1:10085)",
        ),
        (NOW - 880, LogKind::Info, "core up"),
        (
            NOW - 120,
            LogKind::Resync,
            "resync (start): 5 keys re-added in 12 ms",
        ),
        (NOW - 30, LogKind::Key, "key 6 “laptop” created by uid 0"),
    ];
    for (at, kind, text) in log {
        app.log.push_front(LogEntry {
            at,
            kind,
            text: text.into(),
        });
    }
    reorder(&mut app);
    app
}

fn detail_of(id: i64) -> Detail {
    let buckets: Vec<TrafficBucket> = (0..60)
        .filter(|i| i % 3 != 0)
        .map(|i| TrafficBucket {
            at: NOW - NOW.rem_euclid(60) - (59 - i) * 60,
            uplink: u64::try_from(i).unwrap() * MIB / 4,
            downlink: u64::try_from((i * 13) % 29).unwrap() * 4 * MIB,
        })
        .collect();
    Detail {
        id,
        link: Load::Ready(
            "vless://6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d01@vpn.example.com:443?encryption=none\
             &security=reality&type=tcp#%D0%9C%D0%B0%D1%88%D0%B0"
                .into(),
        ),
        traffic: Load::Ready(KeyTrafficDetail {
            traffic: KeyTraffic {
                id,
                name: "Маша 🦊".into(),
                state: KeyState::Active,
                disable_reason: None,
                uplink: 300 * MIB,
                downlink: 6 * GIB,
                lifetime_uplink: 2 * GIB,
                lifetime_downlink: 41 * GIB,
                uplink_rate: 40 * 1024,
                downlink_rate: 2 * MIB,
                last_active: Some(NOW),
                data_limit: Some(10 * GIB),
                expires_at: None,
                reset: ResetSchedule::Monthly(1),
                next_reset_at: None,
                last_reset_at: None,
            },
            online: Online::Known {
                count: 2,
                ips: vec![
                    OnlineIp {
                        ip: "203.0.113.7".into(),
                        last_seen: NOW,
                    },
                    OnlineIp {
                        ip: "198.51.100.23".into(),
                        last_seen: NOW - 4,
                    },
                ],
            },
            resets: vec![],
        }),
        history: Load::Ready(TrafficHistoryPage {
            key_id: id,
            resolution: Resolution::Minute,
            buckets,
        }),
        resolution: Resolution::Minute,
    }
}

pub(crate) fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| ui::draw(f, app)).unwrap();
    terminal
}

/// Snapshots `prepare`d fixture at 80×24 and 120×40.
fn snap(name: &str, prepare: impl Fn(&mut App)) {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = fixture(Theme::COLOR, w, h);
        prepare(&mut app);
        let terminal = render(&app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
    }
}

/// Where `text` starts in the buffer.
fn find(buf: &Buffer, text: &str) -> Option<(u16, u16)> {
    let area = buf.area;
    for y in 0..area.height {
        let row: String = (0..area.width)
            .map(|x| buf[(x, y)].symbol().to_owned())
            .collect();
        if let Some(byte) = row.find(text) {
            let col = row[..byte].chars().count();
            // Wide characters take one symbol cell plus an empty one: count cells instead.
            let mut x = 0u16;
            let mut seen = 0;
            while seen < col && x < area.width {
                seen += buf[(x, y)].symbol().chars().count();
                x += 1;
            }
            return Some((x, y));
        }
    }
    None
}

pub(crate) fn press(app: &mut App, code: KeyCode) -> Outcome {
    update(
        app,
        Msg::Input(TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))),
    )
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

pub(crate) fn calls(out: &Outcome) -> Vec<Cmd> {
    out.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Call(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

// ---- Snapshots --------------------------------------------------------------------------

#[test]
fn overview() {
    snap("overview", |_| {});
}

#[test]
fn overview_shows_the_http_api_when_on() {
    let mut app = fixture(Theme::COLOR, 120, 40);
    let mut h = health(CoreStatus::Up);
    h.http = Some(Box::new(veil_shared::api::HttpHealth {
        listen: "127.0.0.1:8080".into(),
        requests_last_minute: 42,
        auth_failures: vec![veil_shared::api::AuthFailure {
            at: NOW - 5,
            remote: "203.0.113.9".into(),
        }],
        tls: false,
        cert_not_after: None,
    }));
    app.health = Some(h);
    let terminal = render(&app, 120, 40);
    let buf = terminal.backend().buffer();
    assert!(find(buf, "http 127.0.0.1:8080 · 42/min").is_some());
    assert!(find(buf, "· 1 fail").is_some());
}

#[test]
fn overview_core_down_and_reconnecting() {
    snap("overview_down", |app| {
        app.health = Some(health(CoreStatus::Down));
        app.conn = Conn::Down {
            error: "cannot connect to veild".into(),
            since: NOW - 7,
        };
    });
}

#[test]
fn overview_before_traffic_methods_exist() {
    snap("overview_no_traffic", |app| {
        app.traffic_supported = Some(false);
        app.traffic.clear();
        app.busiest.clear();
        app.rates.clear();
        app.today = None;
    });
}

#[test]
fn keys_table() {
    snap("keys", |app| app.view = View::Keys);
}

#[test]
fn keys_sorted_by_rate_and_filtered() {
    snap("keys_sorted_filtered", |app| {
        app.view = View::Keys;
        app.sort = SortBy::Rate;
        app.descending = true;
        app.filter = "o".into();
        reorder(app);
        app.cursor = 1;
    });
}

#[test]
fn keys_filter_being_typed() {
    snap("keys_filtering", |app| {
        app.view = View::Keys;
        app.filtering = true;
        app.filter = "gue".into();
        reorder(app);
    });
}

#[test]
fn keys_without_traffic() {
    snap("keys_no_traffic", |app| {
        app.view = View::Keys;
        app.traffic_supported = Some(false);
        app.traffic.clear();
    });
}

#[test]
fn key_detail() {
    snap("detail", |app| {
        app.view = View::Keys;
        app.detail = Some(detail_of(1));
    });
}

#[test]
fn key_detail_loading_and_unsupported() {
    snap("detail_unsupported", |app| {
        app.view = View::Keys;
        let mut d = detail_of(6);
        d.link = Load::Loading;
        d.traffic = Load::Unsupported;
        d.history = Load::Unsupported;
        app.detail = Some(d);
    });
}

#[test]
fn events() {
    snap("events", |app| app.view = View::Events);
}

#[test]
fn help() {
    snap("help", |app| {
        app.view = View::Keys;
        app.popup = Some(Popup::Help);
    });
}

#[test]
fn add_form() {
    snap("add_form", |app| {
        app.view = View::Keys;
        let mut form = Form::add();
        for c in "Маша 🦊".chars() {
            form.fields[0].insert(&c.to_string());
        }
        form.fields[1].insert("10G");
        form.focus = 2;
        form.fields[2].insert("20");
        form.error = Some("'20' is not an expiry: try 30d, 12h, 2w or 2026-12-31".into());
        app.popup = Some(Popup::Form(form));
    });
}

#[test]
fn confirm_delete() {
    snap("confirm_delete", |app| {
        app.view = View::Keys;
        app.popup = Some(Popup::Confirm(Confirm::Delete {
            id: 2,
            name: "Office 東京".into(),
        }));
    });
}

#[test]
fn qr_code() {
    snap("qr", |app| {
        app.view = View::Keys;
        app.popup = Some(Popup::Qr {
            id: 8,
            name: "dad".into(),
            link: Load::Ready(
                "vless://6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d08@127.0.0.1:443?type=tcp#dad".into(),
            ),
            inverted: false,
        });
    });
}

#[test]
fn qr_code_too_big_for_the_terminal() {
    snap("qr_too_big", |app| {
        app.view = View::Keys;
        let link = detail_of(1).link.ready().cloned().unwrap();
        app.popup = Some(Popup::Qr {
            id: 1,
            name: "Маша 🦊".into(),
            link: Load::Ready(format!(
                "{link}&pbk={}&sid=0123456789abcdef",
                "A".repeat(43)
            )),
            inverted: false,
        });
    });
}

#[test]
fn connecting_with_nothing_loaded() {
    for (w, h) in [(80, 24), (120, 40)] {
        let app = App::new(PathBuf::from("/s"), Theme::COLOR, NOW, w, h);
        let terminal = render(&app, w, h);
        insta::assert_snapshot!(format!("connecting_{w}x{h}"), terminal.backend());
    }
}

#[test]
fn small_terminals_get_a_note_and_never_panic() {
    let app = fixture(Theme::COLOR, 30, 8);
    insta::assert_snapshot!("too_small_30x8", render(&app, 30, 8).backend());
    for view in View::ALL {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (5, 2),
            (39, 9),
            (40, 10),
            (41, 11),
            (60, 12),
        ] {
            let mut app = fixture(Theme::COLOR, w, h);
            app.view = view;
            render(&app, w, h);
            app.detail = Some(detail_of(1));
            render(&app, w, h);
            for popup in [
                Popup::Help,
                Popup::Form(Form::add()),
                Popup::Confirm(Confirm::ResetTraffic {
                    id: 1,
                    name: "x".into(),
                }),
                Popup::Qr {
                    id: 1,
                    name: "x".into(),
                    link: Load::Ready("vless://x".into()),
                    inverted: true,
                },
            ] {
                app.popup = Some(popup);
                render(&app, w, h);
            }
        }
    }
}

// ---- Colors -----------------------------------------------------------------------------

#[test]
fn a_down_core_and_a_lost_daemon_are_red() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    app.health = Some(health(CoreStatus::Down));
    app.conn = Conn::Down {
        error: "gone".into(),
        since: NOW - 3,
    };
    let terminal = render(&app, 80, 24);
    let buf = terminal.backend().buffer();
    let (x, y) = find(buf, "✕ down").expect("core status shown");
    assert_eq!(buf[(x + 2, y)].fg, Color::Red);
    let (x, y) = find(buf, "reconnecting").expect("connection shown");
    assert_eq!(buf[(x, y)].fg, Color::Red);

    let app = fixture(Theme::COLOR, 80, 24);
    let terminal = render(&app, 80, 24);
    let buf = terminal.backend().buffer();
    let (x, y) = find(buf, "● up").expect("core status shown");
    assert_eq!(buf[(x, y)].fg, Color::Green);
}

#[test]
fn the_selected_row_is_reversed_and_states_are_colored() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    app.view = View::Keys;
    app.cursor = 1;
    let terminal = render(&app, 80, 24);
    let buf = terminal.backend().buffer();
    let (x, y) = find(buf, "Office").unwrap();
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    let (x, y) = find(buf, "off (limit)").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (x, y) = find(buf, "active*").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Yellow, "pending keys stand out");
}

#[test]
fn no_color_means_no_color() {
    for view in View::ALL {
        let mut app = fixture(Theme::MONO, 120, 40);
        app.health = Some(health(CoreStatus::Down));
        app.view = view;
        let terminal = render(&app, 120, 40);
        let buf = terminal.backend().buffer();
        for cell in &buf.content {
            assert_eq!(cell.fg, Color::Reset, "{view:?}: {cell:?}");
            assert_eq!(cell.bg, Color::Reset, "{view:?}: {cell:?}");
        }
        // Meaning survives in words.
        assert!(find(buf, "down").is_some() || view != View::Overview);
    }
}

#[test]
fn the_qr_code_is_black_on_white_with_color() {
    let mut app = fixture(Theme::COLOR, 120, 40);
    app.popup = Some(Popup::Qr {
        id: 8,
        name: "dad".into(),
        link: Load::Ready("vless://x@127.0.0.1:1?type=tcp#dad".into()),
        inverted: false,
    });
    let terminal = render(&app, 120, 40);
    let buf = terminal.backend().buffer();
    let (x, y) = find(buf, "█").expect("a drawn code");
    assert_eq!(
        (buf[(x, y)].fg, buf[(x, y)].bg),
        (Color::Black, Color::White)
    );
}

// ---- update -----------------------------------------------------------------------------

fn fresh() -> App {
    App::new(PathBuf::from("/s"), Theme::COLOR, NOW, 80, 24)
}

#[test]
fn connecting_asks_for_everything() {
    let mut app = fresh();
    let out = update(
        &mut app,
        Msg::Connected {
            version: "0.1.0".into(),
        },
    );
    assert!(out.redraw);
    assert_eq!(
        calls(&out),
        vec![Cmd::Health, Cmd::Keys, Cmd::Traffic, Cmd::Audit]
    );
    // While those are in flight, ticks do not ask again.
    let out = update(&mut app, Msg::Tick { now: NOW + 5 });
    assert!(calls(&out).is_empty());
}

#[test]
fn a_lost_daemon_is_logged_once_and_recovered() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    let lines = app.log.len();
    update(
        &mut app,
        Msg::Disconnected {
            error: "veild closed the connection".into(),
        },
    );
    assert!(matches!(app.conn, Conn::Down { .. }));
    assert_eq!(app.rate_now, (0, 0), "rates stop with the connection");
    for _ in 0..3 {
        update(
            &mut app,
            Msg::Disconnected {
                error: "cannot connect".into(),
            },
        );
        update(
            &mut app,
            Msg::Disconnected {
                error: "cannot connect".into(),
            },
        );
    }
    assert_eq!(app.log.len(), lines + 1);
    assert!(app.log[0].text.contains("lost veild"));
    // Actions wait for the connection.
    app.view = View::Keys;
    let out = press(&mut app, KeyCode::Char('a'));
    assert!(app.popup.is_none() && calls(&out).is_empty());
    let out = update(
        &mut app,
        Msg::Connected {
            version: "0.1.1".into(),
        },
    );
    assert!(app.connected());
    assert!(calls(&out).contains(&Cmd::Keys));
    assert!(app.log[0].text.contains("reconnected"));
}

#[test]
fn idle_ticks_redraw_only_when_the_minute_changes() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    app.last_traffic_at = Some(NOW + 1_000);
    let mut redraws = 0;
    for s in 1..=120 {
        let out = update(&mut app, Msg::Tick { now: NOW + s });
        redraws += usize::from(out.redraw);
        // Health is polled every two seconds; its answer is handled below.
        if calls(&out).contains(&Cmd::Health) {
            let mut h = health(CoreStatus::Up);
            h.uptime_secs += u64::try_from(s).unwrap();
            h.core.uptime_secs = h.core.uptime_secs.map(|u| u + u64::try_from(s).unwrap());
            let out = update(&mut app, Msg::Reply(Box::new(Reply::Health(Ok(h)))));
            redraws += usize::from(out.redraw);
        }
    }
    // The clock turns twice in 120 s; the daemon's uptime shows minutes ("2h 5m").
    assert!(redraws <= 4, "{redraws} redraws in two idle minutes");
}

#[test]
fn traffic_events_move_rates_today_and_the_busiest() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    let before = app.today.unwrap();
    let event = TrafficEvent {
        at: NOW + 1,
        interval_ms: 1_000,
        keys: vec![TrafficTick {
            id: 8,
            uplink_rate: 1_000,
            downlink_rate: 9 * MIB,
            uplink: 2 * MIB + 1_000,
            downlink: 39 * MIB,
        }],
    };
    update(&mut app, Msg::Daemon(Box::new(Event::Traffic(event))));
    assert_eq!(app.busiest, vec![8], "keys not in the event stopped");
    assert_eq!(app.rate_now, (1_000, 9 * MIB));
    let today = app.today.unwrap();
    assert_eq!(today.downlink - before.downlink, 9 * MIB);
    assert_eq!(today.uplink - before.uplink, 1_000);
    assert_eq!(app.rates.back().unwrap().downlink, 9 * MIB);
    // Three quiet cycles later the rate is zero again.
    let out = update(&mut app, Msg::Tick { now: NOW + 10 });
    assert!(out.redraw);
    assert_eq!(app.rate_now, (0, 0));
    assert!(app.busiest.is_empty());
}

#[test]
fn key_events_update_the_table_and_the_log() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    let mut k = key(9, "new-phone");
    k.pending = true;
    let actor = Some(Actor::Peer {
        uid: 1000,
        gid: 1000,
        pid: Some(77),
    });
    update(
        &mut app,
        Msg::Daemon(Box::new(Event::Key(DaemonKeyEvent {
            action: KeyAction::Created,
            key: k.clone(),
            actor: actor.clone(),
        }))),
    );
    assert_eq!(app.keys.last().unwrap().name, "new-phone");
    assert!(
        app.log[0].text.contains("created by uid 1000"),
        "{:?}",
        app.log[0]
    );
    k.pending = false;
    update(
        &mut app,
        Msg::Daemon(Box::new(Event::Key(DaemonKeyEvent {
            action: KeyAction::Applied,
            key: k.clone(),
            actor: None,
        }))),
    );
    assert!(!app.key(9).unwrap().pending);
    assert!(
        !app.log[0].text.contains("applied"),
        "applies are not logged"
    );
    k.state = KeyState::Deleted;
    update(
        &mut app,
        Msg::Daemon(Box::new(Event::Key(DaemonKeyEvent {
            action: KeyAction::Deleted,
            key: k,
            actor,
        }))),
    );
    assert!(app.key(9).is_none());
    assert_eq!(app.visible.len(), app.keys.len());
}

#[test]
fn the_add_form_creates_a_key_and_selects_it() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('a'));
    assert!(matches!(app.popup, Some(Popup::Form(_))));
    type_text(&mut app, "phone-2");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "5G");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "30d");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "q is text here");
    let out = press(&mut app, KeyCode::Enter);
    let Ok::<[Cmd; 1], _>([Cmd::Create(create)]) = calls(&out).try_into() else {
        panic!("no create");
    };
    assert_eq!(create.name, "phone-2");
    assert_eq!(create.data_limit, Some(5 * GIB));
    assert_eq!(create.note.as_deref(), Some("q is text here"));
    let mut made = key(9, "phone-2");
    made.data_limit = Some(5 * GIB);
    update(
        &mut app,
        Msg::Reply(Box::new(Reply::Changed {
            action: Action::Created,
            name: "phone-2".into(),
            result: Ok(made),
        })),
    );
    assert!(app.popup.is_none());
    assert_eq!(app.selected().unwrap().name, "phone-2");
    assert!(app.toast.as_ref().unwrap().text.contains("created"));
}

#[test]
fn a_refused_form_stays_open_with_the_reason() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    app.view = View::Keys;
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "dad");
    for _ in 0..3 {
        press(&mut app, KeyCode::Tab);
    }
    let out = press(&mut app, KeyCode::Enter);
    assert_eq!(calls(&out).len(), 1);
    update(
        &mut app,
        Msg::Reply(Box::new(Reply::Changed {
            action: Action::Created,
            name: "dad".into(),
            result: Err(CallError::new("a key named 'dad' exists (conflict)")),
        })),
    );
    let Some(Popup::Form(form)) = &app.popup else {
        panic!("form closed");
    };
    assert!(!form.busy);
    assert!(form.error.as_deref().unwrap().contains("exists"));
}

#[test]
fn delete_asks_first() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    app.view = View::Keys;
    press(&mut app, KeyCode::Down);
    let out = press(&mut app, KeyCode::Char('x'));
    assert!(calls(&out).is_empty());
    let out = press(&mut app, KeyCode::Char('n'));
    assert!(calls(&out).is_empty() && app.popup.is_none());
    press(&mut app, KeyCode::Delete);
    let out = press(&mut app, KeyCode::Char('y'));
    assert_eq!(calls(&out), vec![Cmd::Delete { id: 2 }]);
}

#[test]
fn toggle_reset_copy_and_qr_act_on_the_selected_key() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    app.view = View::Keys;
    assert_eq!(
        calls(&press(&mut app, KeyCode::Char('d'))),
        vec![Cmd::Disable { id: 1 }]
    );
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(
        calls(&press(&mut app, KeyCode::Char(' '))),
        vec![Cmd::Enable { id: 3 }]
    );
    press(&mut app, KeyCode::Char('z'));
    assert_eq!(
        calls(&press(&mut app, KeyCode::Char('y'))),
        vec![Cmd::ResetTraffic { id: 3 }]
    );
    let out = press(&mut app, KeyCode::Char('c'));
    assert_eq!(
        calls(&out),
        vec![Cmd::Link {
            id: 3,
            purpose: super::event::LinkPurpose::Copy
        }]
    );
    let out = update(
        &mut app,
        Msg::Reply(Box::new(Reply::Link {
            id: 3,
            purpose: super::event::LinkPurpose::Copy,
            result: Ok("vless://x".into()),
        })),
    );
    assert!(out.effects.contains(&Effect::Clipboard("vless://x".into())));
    press(&mut app, KeyCode::Char('v'));
    assert!(matches!(app.popup, Some(Popup::Qr { id: 3, .. })));
    press(&mut app, KeyCode::Esc);
    assert!(app.popup.is_none());
    // The subscription URL: asked for (made if the key has none), shown as a QR code.
    let out = press(&mut app, KeyCode::Char('u'));
    assert_eq!(
        calls(&out),
        vec![Cmd::Link {
            id: 3,
            purpose: super::event::LinkPurpose::SubQr
        }]
    );
    update(
        &mut app,
        Msg::Reply(Box::new(Reply::Link {
            id: 3,
            purpose: super::event::LinkPurpose::SubQr,
            result: Ok("https://vpn.example.com/sub/x".into()),
        })),
    );
    let Some(Popup::Qr {
        id: 3, link, name, ..
    }) = &app.popup
    else {
        panic!("no QR popup: {:?}", app.popup)
    };
    assert!(name.ends_with("subscription URL"), "{name}");
    assert_eq!(
        link,
        &Load::Ready("https://vpn.example.com/sub/x".to_owned())
    );
    press(&mut app, KeyCode::Esc);
}

#[test]
fn the_detail_fetches_link_traffic_and_history() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    app.view = View::Keys;
    let out = press(&mut app, KeyCode::Enter);
    assert_eq!(calls(&out).len(), 3);
    assert_eq!(app.detail.as_ref().unwrap().id, 1);
    let out = press(&mut app, KeyCode::Char(']'));
    assert_eq!(
        calls(&out),
        vec![Cmd::History {
            id: 1,
            resolution: Resolution::Hour
        }]
    );
    // A late answer for the old resolution is dropped.
    update(
        &mut app,
        Msg::Reply(Box::new(Reply::History {
            id: 1,
            resolution: Resolution::Minute,
            result: Err(CallError::new("late")),
        })),
    );
    assert_eq!(app.detail.as_ref().unwrap().history, Load::Loading);
    press(&mut app, KeyCode::Esc);
    assert!(app.detail.is_none());
}

#[test]
fn filter_and_sort() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    app.view = View::Keys;
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "guest");
    assert_eq!(app.visible.len(), 3);
    press(&mut app, KeyCode::Enter);
    assert!(!app.filtering);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.visible.len(), app.keys.len());
    // s: name, state, rate (fastest first).
    for _ in 0..3 {
        press(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(app.sort, SortBy::Rate);
    assert_eq!(app.selected().unwrap().id, 3, "the cursor follows its key");
    app.cursor = 0;
    assert_eq!(app.selected().unwrap().id, 1, "fastest first");
    press(&mut app, KeyCode::Char('S'));
    assert_eq!(app.selected().unwrap().id, 1, "still on its key");
    assert_eq!(app.cursor, app.visible.len() - 1, "now the fastest is last");
}

#[test]
fn ten_thousand_keys_scroll_by_pages() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    app.view = View::Keys;
    app.keys = (1..=10_000).map(|i| key(i, &format!("key-{i}"))).collect();
    app.index = app
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.id, i))
        .collect();
    reorder(&mut app);
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(app.cursor, 9_999);
    assert_eq!(app.offset, 10_000 - ui::table_rows(80, 24));
    press(&mut app, KeyCode::PageUp);
    assert_eq!(app.cursor, 9_999 - ui::table_rows(80, 24));
    press(&mut app, KeyCode::Char('g'));
    assert_eq!((app.cursor, app.offset), (0, 0));
    let terminal = render(&app, 80, 24);
    assert!(find(terminal.backend().buffer(), "key-20").is_some());
    assert!(find(terminal.backend().buffer(), "key-21 ").is_none());
}

#[test]
fn health_changes_are_logged() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    let lines = app.log.len();
    let mut down = health(CoreStatus::Down);
    update(
        &mut app,
        Msg::Reply(Box::new(Reply::Health(Ok(down.clone())))),
    );
    assert!(app.log[0].text.starts_with("core down"));
    down.core.status = CoreStatus::Up;
    down.core.last_resync = Some(ResyncInfo {
        at: NOW,
        duration_ms: 30,
        keys: 8,
        reason: "core_restart".into(),
    });
    update(&mut app, Msg::Reply(Box::new(Reply::Health(Ok(down)))));
    assert!(app.log.iter().any(|e| e.text == "core up"));
    assert!(app.log[0].text.contains("resync (core restart): 8 keys"));
    assert_eq!(app.log.len(), lines + 3);
}

#[test]
fn unsupported_traffic_shows_dashes_not_errors() {
    let mut app = fresh();
    update(
        &mut app,
        Msg::Connected {
            version: "0.1.0".into(),
        },
    );
    update(
        &mut app,
        Msg::Reply(Box::new(Reply::Traffic(Err(CallError {
            message: "unknown method 'traffic.list'".into(),
            unsupported: true,
        })))),
    );
    assert_eq!(app.traffic_supported, Some(false));
    assert!(app.log.is_empty());
    // And it is not asked again every tick.
    let out = update(&mut app, Msg::Tick { now: NOW + 400 });
    assert!(!calls(&out).contains(&Cmd::Traffic));
}

#[test]
fn quitting() {
    let mut app = fixture(Theme::COLOR, 80, 24);
    assert!(
        press(&mut app, KeyCode::Char('q'))
            .effects
            .contains(&Effect::Quit)
    );
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    app.popup = Some(Popup::Form(Form::add()));
    let out = update(&mut app, Msg::Input(TermEvent::Key(ctrl_c)));
    assert!(out.effects.contains(&Effect::Quit));
    // In a form, q is a letter.
    app.popup = Some(Popup::Form(Form::add()));
    assert!(
        !press(&mut app, KeyCode::Char('q'))
            .effects
            .contains(&Effect::Quit)
    );
}
