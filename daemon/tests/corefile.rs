//! `veild::corefile` against files on disk, with Debian's real `v2ray -test` as the
//! config test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value, json};
use veild::corefile::*;

const V2RAY: &str = "/usr/bin/v2ray";
const TAG: &str = "vless-in";

/// A realistic v2ray 4.34 server config; the top-level keys are deliberately not in
/// alphabetical order, and there are operator-owned clients and unknown fields.
const CONFIG: &str = r#"{
  "log": {
    "loglevel": "warning",
    "access": "none"
  },
  "api": {
    "tag": "api",
    "services": ["HandlerService", "StatsService"]
  },
  "stats": {},
  "policy": {
    "levels": {
      "0": {"statsUserUplink": true, "statsUserDownlink": true, "handshake": 4, "connIdle": 300}
    },
    "system": {"statsInboundUplink": true, "statsInboundDownlink": true}
  },
  "inbounds": [
    {
      "tag": "api-in",
      "listen": "127.0.0.1",
      "port": 10085,
      "protocol": "dokodemo-door",
      "settings": {"address": "127.0.0.1"}
    },
    {
      "tag": "vless-in",
      "listen": "0.0.0.0",
      "port": 8443,
      "protocol": "vless",
      "settings": {
        "decryption": "none",
        "clients": [
          {"email": "ops@example.com", "id": "0b7e9a52-5c1e-4f43-9d0a-1f2e3d4c5b6a", "level": 0, "x-note": "operator's own"}
        ]
      },
      "streamSettings": {"network": "tcp", "security": "none", "tcpSettings": {"header": {"type": "none"}}},
      "sniffing": {"enabled": true, "destOverride": ["http", "tls"]}
    },
    {
      "tag": "socks-in",
      "listen": "127.0.0.1",
      "port": 1080,
      "protocol": "socks",
      "settings": {"auth": "noauth", "udp": false}
    }
  ],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}},
    {"tag": "blocked", "protocol": "blackhole", "settings": {}}
  ],
  "routing": {
    "domainStrategy": "AsIs",
    "rules": [
      {"type": "field", "inboundTag": ["api-in"], "outboundTag": "api"},
      {"type": "field", "ip": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], "outboundTag": "blocked"}
    ]
  }
}
"#;

fn v2ray_test() -> Vec<String> {
    assert!(
        Path::new(V2RAY).exists(),
        "{V2RAY} is missing: apt-get install -y v2ray (scripts/test does this)"
    );
    [V2RAY, "-test", "-config", "{config}"]
        .map(String::from)
        .to_vec()
}

fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    path: PathBuf,
}

fn fixture(mode: u32) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, CONFIG).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    Fixture {
        dir: dir.path().to_owned(),
        _dir: dir,
        path,
    }
}

fn clients(n: usize, tag: &str) -> Vec<FileClient> {
    (1..=n)
        .map(|i| FileClient {
            id: uuid::Uuid::new_v4().to_string(),
            email: format!("{i}.{tag}@veil"),
            level: 0,
            flow: String::new(),
        })
        .collect()
}

/// Names in `dir` containing `needle`, sorted.
fn names_with(dir: &Path, needle: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(needle))
        .collect();
    names.sort();
    names
}

fn backups(dir: &Path) -> Vec<String> {
    names_with(dir, "config.json.bak.")
}

fn temps(dir: &Path) -> Vec<String> {
    names_with(dir, "veil-tmp")
}

/// The document with the managed inbound's client list blanked.
fn without_clients(text: &str) -> Value {
    let mut v: Value = serde_json::from_str(text).unwrap();
    v["inbounds"][1]["settings"]["clients"] = Value::Null;
    v
}

fn file_clients(path: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["inbounds"][1]["settings"]["clients"]
        .as_array()
        .unwrap()
        .clone()
}

fn run_v2ray_test(path: &Path) -> (bool, String) {
    let out = std::process::Command::new(V2RAY)
        .args(["-test", "-config"])
        .arg(path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && text.contains("Configuration OK."),
        text,
    )
}

#[tokio::test]
async fn writes_1000_clients_tested_by_v2ray() {
    let f = fixture(0o600);
    let file = CoreFile::new(
        f.path.clone(),
        TAG.into(),
        v2ray_test(),
        DEFAULT_KEEP_BACKUPS,
    );
    let managed = clients(1000, "bulk");
    let keep = file
        .unmanaged_clients(|c| c.email.ends_with("@veil"))
        .await
        .unwrap();
    assert_eq!(keep.len(), 1);

    let started = Instant::now();
    let outcome = file.write_clients(&managed, &keep).await.unwrap();
    let took = started.elapsed();
    println!("1000-client write with v2ray -test: {took:?}");
    assert_eq!(outcome, WriteOutcome::Written);
    assert_eq!(file.writes(), 1);

    // Exactly those clients, in order, then the kept one.
    let written = file_clients(&f.path);
    assert_eq!(written.len(), 1001);
    for (c, w) in managed.iter().zip(&written) {
        assert_eq!(w, &json!({"id": c.id, "email": c.email, "level": 0}));
    }
    assert_eq!(written[1000], keep[0]);
    let loaded = file.load().await.unwrap();
    assert_eq!(&loaded.clients[..1000], &managed[..]);

    // The core accepts the result; everything else is as the operator wrote it.
    let (ok, out) = run_v2ray_test(&f.path);
    assert!(ok, "v2ray -test on the final file:\n{out}");
    let text = std::fs::read_to_string(&f.path).unwrap();
    assert_eq!(without_clients(&text), without_clients(CONFIG));
    let top: Vec<String> = serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        top,
        [
            "log",
            "api",
            "stats",
            "policy",
            "inbounds",
            "outbounds",
            "routing"
        ]
    );
    assert!(text.ends_with("}\n"));

    // One backup, holding the original bytes; no temp file.
    let b = backups(&f.dir);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(std::fs::read_to_string(f.dir.join(&b[0])).unwrap(), CONFIG);
    assert!(temps(&f.dir).is_empty());

    // The same clients again: nothing to do.
    let started = Instant::now();
    let again = file.write_clients(&managed, &keep).await.unwrap();
    println!("1000-client unchanged check: {:?}", started.elapsed());
    assert_eq!(again, WriteOutcome::Unchanged);
    assert_eq!(file.writes(), 1);
    assert_eq!(backups(&f.dir).len(), 1);
    assert_eq!(std::fs::read_to_string(&f.path).unwrap(), text);
}

#[tokio::test]
async fn failing_test_command_leaves_the_file_alone() {
    let f = fixture(0o600);
    for command in [
        cmd(&["false", "{config}"]),
        cmd(&["sh", "-c", "echo 'bad config' >&2; exit 3; {config}"]),
    ] {
        let file = CoreFile::new(f.path.clone(), TAG.into(), command, 10);
        let err = file.write_clients(&clients(3, "x"), &[]).await.unwrap_err();
        assert!(matches!(err, CoreFileError::TestFailed { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("exited with code"), "{msg}");
        assert!(msg.contains(&f.path.display().to_string()), "{msg}");
        assert_eq!(std::fs::read_to_string(&f.path).unwrap(), CONFIG);
        assert!(temps(&f.dir).is_empty(), "{:?}", temps(&f.dir));
        assert!(backups(&f.dir).is_empty());
        assert_eq!(file.writes(), 0);
    }
    let file = CoreFile::new(
        f.path.clone(),
        TAG.into(),
        cmd(&["sh", "-c", "echo 'bad config' >&2; exit 3; {config}"]),
        10,
    );
    let msg = file
        .write_clients(&clients(1, "x"), &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("exited with code 3") && msg.contains("bad config"),
        "{msg}"
    );

    let missing = CoreFile::new(
        f.path.clone(),
        TAG.into(),
        cmd(&["/no/such/xray", "{config}"]),
        10,
    );
    let err = missing
        .write_clients(&clients(1, "x"), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, CoreFileError::TestSpawn { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&f.path).unwrap(), CONFIG);
    assert!(temps(&f.dir).is_empty());
}

#[tokio::test]
async fn config_rejected_by_v2ray_leaves_the_file_alone() {
    let f = fixture(0o600);
    let file = CoreFile::new(f.path.clone(), TAG.into(), v2ray_test(), 10);
    let mut bad = clients(5, "x");
    bad[2].id = "not-a-uuid".into();
    let err = file.write_clients(&bad, &[]).await.unwrap_err();
    assert!(matches!(err, CoreFileError::TestFailed { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("exited with code 23"), "{msg}");
    assert!(msg.contains("invalid UUID: not-a-uuid"), "{msg}");
    assert_eq!(std::fs::read_to_string(&f.path).unwrap(), CONFIG);
    assert!(temps(&f.dir).is_empty());
    assert!(backups(&f.dir).is_empty());
    assert_eq!(file.writes(), 0);

    // Two clients with one email: refused before anything is written or run.
    let mut dup = clients(2, "x");
    dup[1].email = dup[0].email.to_uppercase();
    let err = file.write_clients(&dup, &[]).await.unwrap_err();
    assert!(matches!(err, CoreFileError::InvalidClients { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&f.path).unwrap(), CONFIG);
}

#[tokio::test]
async fn keeps_only_the_newest_backups() {
    let f = fixture(0o600);
    let file = CoreFile::new(f.path.clone(), TAG.into(), v2ray_test(), 3);
    let mut contents = vec![CONFIG.to_owned()];
    for round in 0..5 {
        let outcome = file
            .write_clients(&clients(round + 1, &format!("r{round}")), &[])
            .await
            .unwrap();
        assert_eq!(outcome, WriteOutcome::Written);
        contents.push(std::fs::read_to_string(&f.path).unwrap());
    }
    assert_eq!(file.writes(), 5);
    let b = backups(&f.dir);
    assert_eq!(b.len(), 3, "{b:?}");
    // The three newest: the files as they were before writes 3, 4 and 5.
    let kept: Vec<String> = b
        .iter()
        .map(|n| std::fs::read_to_string(f.dir.join(n)).unwrap())
        .collect();
    assert_eq!(kept, contents[2..5]);
    for n in &b {
        let mode = std::fs::metadata(f.dir.join(n))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o600, "{n}");
    }
    assert!(temps(&f.dir).is_empty());
}

#[tokio::test]
async fn keeps_the_file_mode_but_never_opens_it_to_others() {
    // (mode before, mode after): never more open than before, never readable by others.
    for (mode, want) in [
        (0o600, 0o600),
        (0o640, 0o640),
        (0o644, 0o640),
        (0o666, 0o660),
        (0o604, 0o600),
    ] {
        let f = fixture(mode);
        let file = CoreFile::new(f.path.clone(), TAG.into(), v2ray_test(), 10);
        file.write_clients(&clients(2, "m"), &[]).await.unwrap();
        let after = std::fs::metadata(&f.path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(after, want, "mode {mode:o}");
        assert_eq!(file.writes(), 1);
        for backup in std::fs::read_dir(&f.dir).unwrap() {
            let backup = backup.unwrap().path();
            let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
            assert_eq!(mode & 0o007, 0, "{} is open to others", backup.display());
        }
    }
}

#[tokio::test]
async fn preserves_unowned_clients_verbatim() {
    let f = fixture(0o600);
    let file = CoreFile::new(f.path.clone(), TAG.into(), v2ray_test(), 10);
    let ours = |c: &FileClient| c.email.ends_with("@veil");
    let loaded = file.load().await.unwrap();
    assert_eq!(loaded.clients.len(), 1);
    assert_eq!(loaded.clients[0].email, "ops@example.com");
    let keep = loaded.unmanaged(ours);
    assert_eq!(keep, file.unmanaged_clients(ours).await.unwrap());

    let first = clients(2, "a");
    file.write_clients(&first, &keep).await.unwrap();
    // A second round that keeps what is not ours, read from the same bytes it replaces.
    let second = clients(3, "b");
    let (outcome, kept) = file
        .write_clients_keeping_unmanaged(&second, |c| c.email.ends_with("@veil"))
        .await
        .unwrap();
    assert_eq!(outcome, WriteOutcome::Written);
    assert_eq!(kept, keep);

    let text = std::fs::read_to_string(&f.path).unwrap();
    // The operator's entry, byte for byte in its own key order.
    assert!(
        text.contains(
            "{\n            \"email\": \"ops@example.com\",\n            \"id\": \
             \"0b7e9a52-5c1e-4f43-9d0a-1f2e3d4c5b6a\",\n            \"level\": 0,\n            \
             \"x-note\": \"operator's own\"\n          }"
        ),
        "{text}"
    );
    let written = file_clients(&f.path);
    assert_eq!(written.len(), 4);
    assert_eq!(written[3], keep[0]);
    assert!(!text.contains(&first[0].id));
    assert!(run_v2ray_test(&f.path).0);
}

#[tokio::test]
async fn flow_is_written_only_when_set() {
    let f = fixture(0o600);
    let file = CoreFile::new(f.path.clone(), TAG.into(), v2ray_test(), 10);
    let mut c = clients(2, "f");
    c[1].flow = "xtls-rprx-vision".into();
    c[1].level = 1;
    file.write_clients(&c, &[]).await.unwrap();
    let written = file_clients(&f.path);
    assert!(written[0].get("flow").is_none());
    assert_eq!(written[0]["level"], 0);
    assert_eq!(written[1]["flow"], "xtls-rprx-vision");
    let loaded = file.load().await.unwrap();
    assert_eq!(loaded.clients, c);
    // Tie between "" and vision: the first seen wins.
    assert_eq!(loaded.flow, "");
    assert_eq!(loaded.stream.network.as_deref(), Some("tcp"));
    assert_eq!(loaded.stream.security.as_deref(), Some("none"));
    assert_eq!(loaded.port, Some(8443));
    assert_eq!(loaded.listen.as_deref(), Some("0.0.0.0"));
}

#[tokio::test]
async fn load_errors_name_the_tag_and_the_path() {
    let f = fixture(0o600);
    let p = f.path.display().to_string();

    let missing_tag = CoreFile::new(f.path.clone(), "nope".into(), vec![], 10);
    let err = missing_tag.load().await.unwrap_err();
    assert!(
        matches!(err, CoreFileError::InboundNotFound { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&p) && msg.contains("\"nope\"") && msg.contains("\"vless-in\""),
        "{msg}"
    );

    let not_vless = CoreFile::new(f.path.clone(), "api-in".into(), vec![], 10);
    let err = not_vless.load().await.unwrap_err();
    assert!(matches!(err, CoreFileError::NotVless { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&p) && msg.contains("api-in") && msg.contains("dokodemo-door"),
        "{msg}"
    );
    // Writing through a wrong tag fails the same way and touches nothing.
    let err = not_vless
        .write_clients(&clients(1, "x"), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, CoreFileError::NotVless { .. }), "{err}");

    let bad = f.dir.join("bad.json");
    std::fs::write(&bad, "{\"inbounds\": [\n  {\"tag\": \"vless-in\",}\n]}\n").unwrap();
    let err = CoreFile::new(bad.clone(), TAG.into(), vec![], 10)
        .load()
        .await
        .unwrap_err();
    assert!(matches!(err, CoreFileError::NotJson { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&bad.display().to_string()) && msg.contains("line 2"),
        "{msg}"
    );

    let absent = f.dir.join("absent.json");
    let err = CoreFile::new(absent.clone(), TAG.into(), vec![], 10)
        .load()
        .await
        .unwrap_err();
    assert!(matches!(err, CoreFileError::Read { .. }), "{err}");
    assert!(
        err.to_string().contains(&absent.display().to_string()),
        "{err}"
    );

    let no_id = f.dir.join("noid.json");
    std::fs::write(
        &no_id,
        CONFIG.replace("\"id\": \"0b7e9a52-5c1e-4f43-9d0a-1f2e3d4c5b6a\", ", ""),
    )
    .unwrap();
    let err = CoreFile::new(no_id, TAG.into(), vec![], 10)
        .load()
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoreFileError::BadClient { index: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("vless-in"), "{err}");
}

#[tokio::test]
async fn an_edit_during_the_test_is_not_overwritten() {
    let f = fixture(0o600);
    // The "test" edits the target, as an operator might while the core test runs.
    let script = format!("echo '' >> '{}'; true {{config}}", f.path.display());
    let file = CoreFile::new(f.path.clone(), TAG.into(), cmd(&["sh", "-c", &script]), 10);
    let err = file.write_clients(&clients(1, "x"), &[]).await.unwrap_err();
    assert!(
        matches!(err, CoreFileError::ChangedConcurrently { .. }),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&f.path).unwrap(),
        format!("{CONFIG}\n")
    );
    assert!(temps(&f.dir).is_empty());
    assert!(backups(&f.dir).is_empty());
}

#[tokio::test]
async fn temp_file_sits_beside_the_target_with_its_extension() {
    let f = fixture(0o640);
    // Xray picks the config format from the extension, so the candidate must end in .json;
    // it must also be in the target's directory, with the target's mode.
    let script = format!(
        "case \"$0\" in '{}'/.config.veil-tmp-*.json) ;; *) echo \"bad temp name $0\"; exit 9;; esac; \
         test \"$(stat -c %a \"$0\")\" = 640 || {{ echo bad mode; exit 8; }}",
        f.dir.display()
    );
    let file = CoreFile::new(
        f.path.clone(),
        TAG.into(),
        cmd(&["sh", "-c", &script, "{config}"]),
        10,
    );
    assert_eq!(
        file.write_clients(&clients(1, "x"), &[]).await.unwrap(),
        WriteOutcome::Written
    );
    assert!(temps(&f.dir).is_empty());
}

#[tokio::test]
async fn a_symlinked_config_stays_a_symlink() {
    let f = fixture(0o600);
    let link = f.dir.join("link.json");
    std::os::unix::fs::symlink(&f.path, &link).unwrap();
    let file = CoreFile::new(link.clone(), TAG.into(), v2ray_test(), 10);
    file.write_clients(&clients(2, "s"), &[]).await.unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(file_clients(&f.path).len(), 2);
    assert_eq!(backups(&f.dir).len(), 1);
}

#[tokio::test]
async fn comments_are_read_and_the_commented_original_is_backed_up() {
    let f = fixture(0o600);
    let commented = format!("// managed by hand until Veil\n{CONFIG}");
    std::fs::write(&f.path, &commented).unwrap();
    let file = CoreFile::new(f.path.clone(), TAG.into(), v2ray_test(), 10);
    assert_eq!(file.load().await.unwrap().clients.len(), 1);
    file.write_clients(&clients(1, "c"), &[]).await.unwrap();
    let b = backups(&f.dir);
    assert_eq!(
        std::fs::read_to_string(f.dir.join(&b[0])).unwrap(),
        commented
    );
    assert!(run_v2ray_test(&f.path).0);
}

#[tokio::test]
async fn a_crashed_writers_temp_file_is_cleaned_up() {
    let f = fixture(0o600);
    // pid 0 is never a live veild.
    let stale = f.dir.join(".config.veil-tmp-0-7.json");
    std::fs::write(&stale, "{\"half\": ").unwrap();
    let file = CoreFile::new(f.path.clone(), TAG.into(), v2ray_test(), 10);
    file.write_clients(&clients(1, "t"), &[]).await.unwrap();
    assert!(!stale.exists());
    assert!(temps(&f.dir).is_empty());
}
