//! The dashboard's Nodes tab: shown on a fleet node only, fed by `node.list`.

use crossterm::event::KeyCode;
use veil_shared::fleet::{FleetHealth, NodeInfo, NodeList};

use super::app::View;
use super::event::{Cmd, Msg, Reply};
use super::tests::{NOW, calls, fixture, press, render};
use super::theme::Theme;
use super::update::update;

fn node(name: &str, draining: bool, core: &str) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        draining,
        last_seen: Some(NOW - 3),
        core: Some(core.into()),
        keys_active: Some(1200),
        keys_pending: Some(u64::from(core != "up")),
        veild: Some("0.1.0".into()),
        host: Some(format!("{name}.example")),
        uplink: 5 << 20,
        downlink: 3 << 30,
    }
}

fn screen(app: &super::app::App, w: u16, h: u16) -> String {
    let terminal = render(app, w, h);
    let buf = terminal.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_owned())
                .collect::<String>()
                + "\n"
        })
        .collect()
}

#[test]
fn a_single_server_has_no_nodes_tab_and_4_does_nothing() {
    let mut app = fixture(Theme::COLOR, 120, 40);
    assert!(!app.is_fleet());
    press(&mut app, KeyCode::Char('4'));
    assert_ne!(app.view, View::Nodes);
    assert!(!screen(&app, 120, 40).contains("4 Nodes"));
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
        assert_ne!(app.view, View::Nodes);
    }
}

#[test]
fn a_fleet_node_lists_every_node_and_marks_itself() {
    let mut app = fixture(Theme::COLOR, 120, 40);
    if let Some(h) = &mut app.health {
        h.fleet = Some(FleetHealth {
            node: "a".into(),
            up: true,
            ..FleetHealth::default()
        });
    }
    let out = press(&mut app, KeyCode::Char('4'));
    assert_eq!(app.view, View::Nodes);
    assert!(calls(&out).contains(&Cmd::Nodes), "{:?}", calls(&out));
    assert!(screen(&app, 120, 40).contains("asking veild"));
    let list = NodeList {
        this: "a".into(),
        registry_up: false,
        nodes: vec![
            node("a", false, "up"),
            node("b", true, "down"),
            node("c\u{1b}[2J", false, "up"),
        ],
    };
    update(&mut app, Msg::Reply(Box::new(Reply::Nodes(Ok(list)))));
    let text = screen(&app, 120, 40);
    assert!(text.contains("4 Nodes"), "{text}");
    assert!(
        text.contains("3 nodes") && text.contains("UNREACHABLE"),
        "{text}"
    );
    assert!(
        text.contains("*a") && text.contains("drained") && text.contains("serving"),
        "{text}"
    );
    assert!(text.contains("3.0G") && text.contains("5.0M"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    // While the tab is open, the list is asked for again (not while a call is out).
    let out = update(&mut app, Msg::Tick { now: NOW + 10 });
    assert!(calls(&out).contains(&Cmd::Nodes));
    let out = update(&mut app, Msg::Tick { now: NOW + 20 });
    assert!(!calls(&out).contains(&Cmd::Nodes));
}
