//! Frame render time of the dashboard with 10,000 keys (goal: ≤ 2 ms per frame), plus
//! the cost of re-sorting and of one `event.traffic` that moves every key; and with
//! 100,000 keys, open-to-first-frame (goal: ≤ 1 s) and the frame time (goal: ≤ 2 ms).
//!
//! Open-to-first-frame here is the dashboard's own share: decoding the `key.list` and
//! `traffic.list` replies (the JSON lines veild sends), applying them and drawing the first
//! frame. veild's time to answer those two calls is printed by the traffic bench.
//!
//! `cargo bench -p veil --bench render` (release profile). Each figure is the median of
//! many frames; every frame moves the cursor so the screen really changes.

use std::hint::black_box;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use uuid::Uuid;
use veil::dash::app::{App, Conn, SortBy, Traffic, View};
use veil::dash::event::{Msg, Reply};
use veil::dash::theme::Theme;
use veil::dash::{ui, update};
use veil_shared::api::{Event, KeyPage};
use veil_shared::model::{DisableReason, Key, KeyState};
use veil_shared::traffic::{
    KeyTraffic, PollerInfo, ResetSchedule, TrafficEvent, TrafficPage, TrafficTick,
};

const KEYS: i64 = 10_000;
/// The large dashboard: open-to-first-frame and frames.
const BIG: i64 = 100_000;
const NOW: i64 = 1_795_708_980;

fn key(id: i64) -> Key {
    let disabled = id % 7 == 0;
    Key {
        id,
        uuid: Uuid::from_u128(u128::try_from(id).unwrap_or(0) << 64 | 0xbeef),
        name: format!(
            "key-{id:05}-{}",
            ["phone", "laptop", "tv", "Маша 🦊"][id as usize % 4]
        ),
        note: if id % 3 == 0 {
            "some note".into()
        } else {
            String::new()
        },
        created_at: NOW - 86_400,
        updated_at: NOW - 3_600,
        state: if disabled {
            KeyState::Disabled
        } else {
            KeyState::Active
        },
        applied: Some(KeyState::Active),
        pending: id % 97 == 0,
        disable_reason: disabled.then_some(DisableReason::Limited),
        data_limit: (id % 2 == 0).then_some(10 << 30),
        expires_at: (id % 5 == 0).then_some(NOW + id * 600),
        apply_error: None,
        nodes: None,
    }
}

fn traffic(id: i64) -> Traffic {
    let n = u64::try_from(id).unwrap_or(0);
    Traffic {
        uplink: n * 1_000,
        downlink: n * 90_000,
        uplink_rate: (n % 13) * 100,
        downlink_rate: (n % 13) * 9_000,
        last_active: Some(NOW - (id % 600)),
    }
}

fn app(width: u16, height: u16) -> App {
    app_with(width, height, KEYS)
}

fn app_with(width: u16, height: u16, keys: i64) -> App {
    let mut app = App::new(PathBuf::from("/bench"), Theme::COLOR, NOW, width, height);
    app.conn = Conn::Up {
        version: "bench".into(),
    };
    app.keys = (1..=keys).map(key).collect();
    app.index = app
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.id, i))
        .collect();
    app.keys_loaded = true;
    app.traffic = (1..=keys).map(|id| (id, traffic(id))).collect();
    app.traffic_supported = Some(true);
    update::reorder(&mut app);
    app
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median and worst frame time of `frames` draws on `terminal`.
fn frames<B: ratatui::backend::Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    frames: usize,
) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(frames);
    for i in 0..frames {
        app.cursor = (i * 37) % app.visible.len().max(1);
        app.offset = app.cursor.saturating_sub(5);
        let start = Instant::now();
        let _ = terminal.draw(|f| ui::draw(f, app));
        samples.push(start.elapsed());
    }
    let worst = samples.iter().copied().max().unwrap_or_default();
    (median(samples), worst)
}

fn main() {
    println!("dashboard render, {KEYS} keys (median / worst of 500 frames; goal ≤ 2 ms)");
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        for view in [View::Overview, View::Keys, View::Events] {
            let mut a = app(w, h);
            a.view = view;
            let mut test = match Terminal::new(TestBackend::new(w, h)) {
                Ok(t) => t,
                Err(e) => panic!("test backend: {e}"),
            };
            let (med, worst) = frames(&mut test, &mut a, 500);
            // The real backend's escape-code output too, into a sink.
            let backend = CrosstermBackend::new(io::sink());
            let options = TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
            };
            let mut real = match Terminal::with_options(backend, options) {
                Ok(t) => t,
                Err(e) => panic!("crossterm backend: {e}"),
            };
            let (cmed, cworst) = frames(&mut real, &mut a, 500);
            println!(
                "  {w:>3}×{h:<3} {:<8}  TestBackend {:>7.3} ms / {:>7.3} ms   crossterm→sink {:>7.3} ms / {:>7.3} ms",
                view.title(),
                ms(med),
                ms(worst),
                ms(cmed),
                ms(cworst)
            );
        }
    }

    let mut a = app(120, 40);
    a.view = View::Keys;
    let mut samples = Vec::new();
    for sort in SortBy::ALL.into_iter().cycle().take(70) {
        a.sort = sort;
        a.descending = !a.descending;
        let start = Instant::now();
        update::reorder(&mut a);
        samples.push(start.elapsed());
    }
    println!(
        "re-sort {KEYS} keys (median of 70, all columns): {:.3} ms",
        ms(median(samples))
    );

    let mut samples = Vec::new();
    a.sort = SortBy::Rate;
    for round in 0..50u64 {
        let keys = (1..=KEYS)
            .map(|id| TrafficTick {
                id,
                uplink_rate: round * 10,
                downlink_rate: u64::try_from(id).unwrap_or(0) * round,
                uplink: 0,
                downlink: 0,
            })
            .collect();
        let event = TrafficEvent {
            at: NOW + i64::try_from(round).unwrap_or(0),
            interval_ms: 1_000,
            keys,
        };
        let start = Instant::now();
        black_box(update::update(
            &mut a,
            Msg::Daemon(Box::new(Event::Traffic(event))),
        ));
        samples.push(start.elapsed());
    }
    println!(
        "event.traffic moving all {KEYS} keys, table sorted by rate (median of 50): {:.3} ms",
        ms(median(samples))
    );
    big();
}

/// The `key.list` and `traffic.list` answers veild sends for `keys` keys (their `result`s).
fn replies(keys: i64) -> (String, String) {
    let list: Vec<Key> = (1..=keys).map(key).collect();
    let page = KeyPage {
        total: list.len() as u64,
        keys: list,
    };
    let rows: Vec<KeyTraffic> = (1..=keys)
        .map(|id| {
            let k = key(id);
            let t = traffic(id);
            KeyTraffic {
                id,
                name: k.name,
                state: k.state,
                disable_reason: k.disable_reason,
                uplink: t.uplink,
                downlink: t.downlink,
                lifetime_uplink: t.uplink,
                lifetime_downlink: t.downlink,
                uplink_rate: t.uplink_rate,
                downlink_rate: t.downlink_rate,
                last_active: t.last_active,
                data_limit: k.data_limit,
                expires_at: k.expires_at,
                reset: ResetSchedule::None,
                next_reset_at: None,
                last_reset_at: None,
            }
        })
        .collect();
    let traffic = TrafficPage {
        total: rows.len() as u64,
        keys: rows,
        poller: PollerInfo {
            interval_ms: 10_000,
            last_cycle: None,
        },
    };
    (
        serde_json::to_string(&page).unwrap_or_default(),
        serde_json::to_string(&traffic).unwrap_or_default(),
    )
}

/// With `BIG` keys: from the two replies' text to the first frame drawn, and frames after.
fn big() {
    big_open();
    big_frames();
}

fn big_open() {
    let (keys_json, traffic_json) = replies(BIG);
    let (w, h) = (120u16, 40u16);
    let mut opens = Vec::new();
    for _ in 0..5 {
        let mut a = App::new(PathBuf::from("/bench"), Theme::COLOR, NOW, w, h);
        a.conn = Conn::Up {
            version: "bench".into(),
        };
        a.view = View::Keys;
        let mut terminal = match Terminal::new(TestBackend::new(w, h)) {
            Ok(t) => t,
            Err(e) => panic!("test backend: {e}"),
        };
        let start = Instant::now();
        let page: KeyPage = match serde_json::from_str(&keys_json) {
            Ok(p) => p,
            Err(e) => panic!("key.list reply: {e}"),
        };
        black_box(update::update(
            &mut a,
            Msg::Reply(Box::new(Reply::Keys(Ok(page)))),
        ));
        let page: TrafficPage = match serde_json::from_str(&traffic_json) {
            Ok(p) => p,
            Err(e) => panic!("traffic.list reply: {e}"),
        };
        black_box(update::update(
            &mut a,
            Msg::Reply(Box::new(Reply::Traffic(Ok(page)))),
        ));
        let _ = terminal.draw(|f| ui::draw(f, &a));
        opens.push(start.elapsed());
    }
    let open = median(opens);
    println!(
        "{BIG} keys: open-to-first-frame (decode key.list {:.1} MB + traffic.list {:.1} MB, apply, draw; median of 5): {:.1} ms",
        keys_json.len() as f64 / 1e6,
        traffic_json.len() as f64 / 1e6,
        ms(open)
    );
    println!("summary dash_open_100k_s {:.3}", open.as_secs_f64());
}

fn big_frames() {
    let (w, h) = (120u16, 40u16);
    let mut slowest = 0.0f64;
    for view in [View::Overview, View::Keys, View::Events] {
        let mut a = app_with(w, h, BIG);
        a.view = view;
        let mut test = match Terminal::new(TestBackend::new(w, h)) {
            Ok(t) => t,
            Err(e) => panic!("test backend: {e}"),
        };
        let (med, worst) = frames(&mut test, &mut a, 200);
        println!(
            "  {BIG} keys {w:>3}×{h:<3} {:<8}  frame {:>7.3} ms / {:>7.3} ms (median / worst of 200)",
            view.title(),
            ms(med),
            ms(worst)
        );
        slowest = slowest.max(ms(med));
    }
    // scripts/bench's row: the slowest view's median frame.
    println!("summary dash_frame_100k_ms {slowest:.3}");
    let mut a = app_with(w, h, BIG);
    a.view = View::Keys;
    a.sort = SortBy::Rate;
    let mut samples = Vec::new();
    for round in 0..10u64 {
        let event = TrafficEvent {
            at: NOW + i64::try_from(round).unwrap_or(0),
            interval_ms: 1_000,
            keys: (1..=BIG)
                .map(|id| TrafficTick {
                    id,
                    uplink_rate: round * 10,
                    downlink_rate: u64::try_from(id).unwrap_or(0) * round,
                    uplink: 0,
                    downlink: 0,
                })
                .collect(),
        };
        let start = Instant::now();
        black_box(update::update(
            &mut a,
            Msg::Daemon(Box::new(Event::Traffic(event))),
        ));
        let _ = black_box(&a);
        samples.push(start.elapsed());
    }
    println!(
        "  {BIG} keys: event.traffic moving all, sorted by rate (median of 10): {:.3} ms",
        ms(median(samples))
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}
