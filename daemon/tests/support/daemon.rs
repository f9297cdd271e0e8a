//! Starts the real `veild` binary on a temp socket and database, and waits for its
//! readiness signal (sd_notify READY=1 on a datagram socket the test owns), never on sleeps.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a daemon may take to become ready or to stop.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

pub fn veild_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_veild"))
}

/// The `veil` binary lives beside `veild` in the target directory. `scripts/test` builds
/// every binary before running the tests.
pub fn veil_bin() -> PathBuf {
    let path = veild_bin().with_file_name("veil");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

pub struct DaemonConfig {
    pub socket_group: String,
    /// More `key = value` lines for the `[core]` section.
    pub extra_core: String,
    /// Points veild at a real (or fake) core. `None`: a core that is never up
    /// (`api = 127.0.0.1:1`) with a minimal valid v2fly config file at `DIR/core.json`.
    pub core: Option<CoreSection>,
    /// More TOML after the other sections, e.g. a `[connections]` table.
    pub extra_toml: String,
    /// `(soft, hard)` limit on open files veild starts with (`prlimit --nofile`).
    pub nofile: Option<(u64, u64)>,
    /// More environment for veild.
    pub env: Vec<(String, String)>,
    /// A program (and its arguments) that execs veild, e.g. `setpriv` dropping a
    /// capability; the pid stays the daemon's.
    pub wrapper: Vec<String>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            socket_group: current_group(),
            extra_core: String::new(),
            core: None,
            extra_toml: String::new(),
            nofile: None,
            env: Vec::new(),
            wrapper: Vec::new(),
        }
    }
}

/// The `[core]` section of `veild.toml` for a test that runs a core.
#[derive(Clone, Debug)]
pub struct CoreSection {
    /// `v2fly` or `xray`.
    pub flavor: String,
    /// `127.0.0.1:PORT` of the core's API.
    pub api: String,
    pub inbound_tag: String,
    /// The core's config file, which veild keeps in step.
    pub config: PathBuf,
    /// `None` leaves the flavor's default (`v2ray -test -config {config}` for v2fly).
    pub test_command: Option<Vec<String>>,
    /// More `key = value` lines, e.g. `drift_interval_ms = 300`.
    pub extra: String,
}

/// How often test daemons poll the core's health, so restarts are seen quickly.
pub const TEST_HEALTH_INTERVAL_MS: u64 = 200;

impl CoreSection {
    /// A real v2ray 4.34 (Debian) core, health polled every [`TEST_HEALTH_INTERVAL_MS`].
    pub fn v2fly(api: &str, config: &Path) -> CoreSection {
        CoreSection {
            flavor: "v2fly".into(),
            api: api.to_owned(),
            inbound_tag: "vless-in".into(),
            config: config.to_owned(),
            test_command: None,
            extra: format!("health_interval_ms = {TEST_HEALTH_INTERVAL_MS}\n"),
        }
    }

    /// An Xray core (the fake in tests): the fake does not validate config files, so the
    /// test command only has to succeed.
    pub fn xray(api: &str, config: &Path) -> CoreSection {
        CoreSection {
            flavor: "xray".into(),
            api: api.to_owned(),
            inbound_tag: "vless-in".into(),
            config: config.to_owned(),
            test_command: Some(vec!["true".into(), "{config}".into()]),
            extra: format!("health_interval_ms = {TEST_HEALTH_INTERVAL_MS}\n"),
        }
    }

    pub fn with_test_command(mut self, words: &[&str]) -> CoreSection {
        self.test_command = Some(words.iter().map(|w| (*w).to_owned()).collect());
        self
    }

    pub fn with_extra(mut self, line: &str) -> CoreSection {
        self.extra.push_str(line);
        self.extra.push('\n');
        self
    }

    fn to_toml(&self) -> String {
        let mut text = format!(
            "[core]\nflavor = {}\napi = {}\ninbound_tag = {}\nconfig = {}\n",
            toml_str(&self.flavor),
            toml_str(&self.api),
            toml_str(&self.inbound_tag),
            toml_str(&self.config.display().to_string()),
        );
        if let Some(words) = &self.test_command {
            let words: Vec<String> = words.iter().map(|w| toml_str(w)).collect();
            text.push_str(&format!("test_command = [{}]\n", words.join(", ")));
        }
        text.push_str(&self.extra);
        text.push('\n');
        text
    }
}

/// A TOML basic string (JSON's escaping is a subset TOML accepts).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("encode a string")
}

/// A minimal core config that `v2ray -test` accepts: the API on `api_port` (dokodemo-door
/// `api-in`), stats on, and a VLESS inbound `vless-in` on `vless_port` with `clients`
/// (`(uuid, email)`).
pub fn minimal_v2fly_core_config(
    api_port: u16,
    vless_port: u16,
    clients: &[(&str, &str)],
) -> Value {
    let clients: Vec<Value> = clients
        .iter()
        .map(|(id, email)| serde_json::json!({"id": id, "email": email, "level": 0}))
        .collect();
    serde_json::json!({
        "log": {"loglevel": "warning"},
        "api": {"tag": "api", "services": ["HandlerService", "StatsService"]},
        "stats": {},
        "policy": {
            "levels": {"0": {"statsUserUplink": true, "statsUserDownlink": true}}
        },
        "inbounds": [
            {
                "tag": "api-in", "listen": "127.0.0.1", "port": api_port,
                "protocol": "dokodemo-door", "settings": {"address": "127.0.0.1"}
            },
            {
                "tag": "vless-in", "listen": "127.0.0.1", "port": vless_port,
                "protocol": "vless",
                "settings": {"clients": clients, "decryption": "none"},
                "streamSettings": {"network": "tcp", "security": "none"}
            }
        ],
        "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}],
        "routing": {"rules": [
            {"type": "field", "inboundTag": ["api-in"], "outboundTag": "api"}
        ]}
    })
}

/// Starts veild in `dir` with `extra_toml` and expects it to refuse: waits (at most
/// `timeout`) for it to exit, asserts the exit failed, and returns what it printed on
/// stderr. Panics if it keeps running.
pub fn start_refused(dir: &Path, extra_toml: &str, timeout: Duration) -> String {
    let config = Daemon::write_config(
        dir,
        &DaemonConfig {
            extra_toml: extra_toml.to_owned(),
            ..DaemonConfig::default()
        },
    );
    let mut child = Command::new(veild_bin())
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn veild");
    let status = poll_until(timeout, Duration::from_millis(20), || {
        child.try_wait().expect("wait for veild")
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("veild kept running with {extra_toml:?}");
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("read veild's stderr");
    }
    assert!(!status.success(), "veild exited 0 with {extra_toml:?}");
    stderr
}

/// Polls `probe` every `every` until it yields `Some`, for at most `timeout`.
pub fn poll_until<T>(
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// The name of this process's effective group, so a test daemon accepts its own test.
pub fn current_group() -> String {
    let gid = nix::unistd::getegid();
    nix::unistd::Group::from_gid(gid)
        .ok()
        .flatten()
        .map_or_else(|| "root".into(), |g| g.name)
}

pub struct Daemon {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub database: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
    log: PathBuf,
    nofile: Option<(u64, u64)>,
    env: Vec<(String, String)>,
    wrapper: Vec<String>,
}

impl Daemon {
    /// Writes `DIR/veild.toml`. Without `cfg.core`, also writes a minimal valid v2fly core
    /// config at `DIR/core.json` (unless one is there already: veild keeps it in step).
    pub fn write_config(dir: &Path, cfg: &DaemonConfig) -> PathBuf {
        let config = dir.join("veild.toml");
        let core = match &cfg.core {
            Some(section) => {
                let mut text = section.to_toml();
                text.push_str(&cfg.extra_core);
                text.push('\n');
                text
            }
            None => {
                let core = dir.join("core.json");
                if !core.exists() {
                    // Nothing listens on either port: the core is down for these tests.
                    let json = minimal_v2fly_core_config(1, 2, &[]);
                    std::fs::write(&core, serde_json::to_vec_pretty(&json).expect("json"))
                        .expect("write core.json");
                }
                format!(
                    "[core]\nflavor = \"v2fly\"\napi = \"127.0.0.1:1\"\nconfig = \"{core}\"\n{extra}\n",
                    core = core.display(),
                    extra = cfg.extra_core,
                )
            }
        };
        let text = format!(
            "socket = \"{sock}\"\ndatabase = \"{db}\"\nsocket_group = \"{group}\"\n\
             {core}[public]\nhost = \"127.0.0.1\"\n{extra}\n",
            sock = dir.join("veil.sock").display(),
            db = dir.join("veil.db").display(),
            group = cfg.socket_group,
            extra = cfg.extra_toml,
        );
        std::fs::write(&config, text).expect("write veild.toml");
        config
    }

    pub fn start(dir: &Path) -> Daemon {
        Self::start_with(dir, &DaemonConfig::default())
    }

    pub fn start_with(dir: &Path, cfg: &DaemonConfig) -> Daemon {
        let config = Self::write_config(dir, cfg);
        let mut daemon = Daemon {
            dir: dir.to_owned(),
            socket: dir.join("veil.sock"),
            database: dir.join("veil.db"),
            config,
            child: None,
            log: dir.join("veild.log"),
            nofile: cfg.nofile,
            env: cfg.env.clone(),
            wrapper: cfg.wrapper.clone(),
        };
        daemon.spawn_and_wait();
        daemon
    }

    /// Starts veild again on the same files.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart a stopped daemon only");
        self.spawn_and_wait();
    }

    fn spawn_and_wait(&mut self) {
        let notify_path = self.dir.join(format!("notify-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path).expect("bind notify socket");
        notify
            .set_read_timeout(Some(START_TIMEOUT))
            .expect("set timeout");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let mut command = match (self.nofile, self.wrapper.split_first()) {
            // prlimit execs veild in its own process: the pid stays the daemon's.
            (Some((soft, hard)), _) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={soft}:{hard}")).arg(veild_bin());
                c
            }
            (None, Some((program, args))) => {
                let mut c = Command::new(program);
                c.args(args).arg(veild_bin());
                c
            }
            (None, None) => Command::new(veild_bin()),
        };
        let child = command
            .arg("--config")
            .arg(&self.config)
            .env("NOTIFY_SOCKET", &notify_path)
            .env("RUST_LOG", "veild=debug,info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn veild");
        self.child = Some(child);
        let mut buf = [0u8; 512];
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            match notify.recv(&mut buf) {
                Ok(n)
                    if String::from_utf8_lossy(&buf[..n])
                        .lines()
                        .any(|l| l == "READY=1") =>
                {
                    let _ = std::fs::remove_file(&notify_path);
                    return;
                }
                Ok(_) => {} // another state line (STATUS=…): keep waiting
                Err(e) => panic!(
                    "veild did not signal readiness: {e}\nlog:\n{}",
                    self.log_text()
                ),
            }
        }
        panic!(
            "veild did not signal readiness in time\nlog:\n{}",
            self.log_text()
        );
    }

    pub fn pid(&self) -> i32 {
        self.child
            .as_ref()
            .map(|c| c.id() as i32)
            .expect("daemon running")
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).expect("signal veild");
    }

    /// Waits (bounded) for the process to exit and returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "veild did not exit in time\nlog:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.wait_exit()
    }

    pub fn kill9(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGKILL);
        self.wait_exit();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the veild process is running (started and not reaped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// One call on a fresh connection, expecting a result.
    pub fn call(&self, method: &str, params: Value) -> Value {
        self.raw().call(method, params)
    }

    /// The `health` result.
    pub fn health(&self) -> Value {
        self.call("health", serde_json::json!({}))
    }

    /// Every key in `state` (`active`, `disabled`, `deleted`), in id order.
    pub fn keys_in(&self, state: &str) -> Vec<Value> {
        let page = self.call("key.list", serde_json::json!({"state": state}));
        let mut keys = page["keys"].as_array().cloned().unwrap_or_default();
        keys.sort_by_key(|k| k["id"].as_i64());
        keys
    }

    /// Polls `health` until `probe` accepts it; panics after `timeout` with the last
    /// health and the log.
    pub fn wait_health(
        &self,
        what: &str,
        timeout: Duration,
        probe: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = Value::Null;
        let found = poll_until(timeout, Duration::from_millis(50), || {
            last = self.health();
            probe(&last).then(|| last.clone())
        });
        found.unwrap_or_else(|| {
            panic!(
                "veild: {what} not seen within {timeout:?}\nlast health: {last:#}\nlog:\n{}",
                self.log_text()
            )
        })
    }

    /// Waits until health reports the core up (`core.status == up`).
    pub fn wait_core_up(&self, timeout: Duration) -> Value {
        self.wait_health("core.status == up", timeout, |h| {
            h["core"]["status"] == "up"
        })
    }

    /// Waits until no key is pending (health `pending == 0`).
    /// Waits until nothing is pending and the core's config file lists every live key
    /// (`config.behind == 0`: the file may lag keys already live by `core.file_delay_ms`).
    pub fn wait_no_pending(&self, timeout: Duration) -> Value {
        self.wait_health("pending == 0 and the config file in step", timeout, |h| {
            h["pending"] == 0 && h["config"]["behind"].as_u64().unwrap_or(0) == 0
        })
    }

    pub fn raw(&self) -> RawClient {
        RawClient::connect(&self.socket)
    }

    /// Runs `veil --socket SOCK ARGS…` and returns (exit code, stdout, stderr).
    pub fn veil(&self, args: &[&str]) -> (i32, String, String) {
        run_veil(&self.socket, args)
    }

    /// Runs `veil --json …` expecting success; returns the parsed result.
    pub fn veil_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let (code, out, err) = self.veil(&full);
        assert_eq!(code, 0, "veil {args:?} failed: {err}");
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("veil {args:?} printed non-JSON ({e}): {out}"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn run_veil(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(veil_bin());
    command.env_remove("VEIL_SOCKET");
    run_veil_with(command, socket, args)
}

/// Runs the `veil` in `command` (the binary, or a wrapper that runs it) on `socket` with
/// `args`: (exit code, stdout, stderr).
pub fn run_veil_with(mut command: Command, socket: &Path, args: &[&str]) -> (i32, String, String) {
    let out = command
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run veil");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A line-level client: writes exactly the bytes a test gives and reads one line back.
pub struct RawClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl RawClient {
    pub fn connect(socket: &Path) -> RawClient {
        Self::connect_waiting(socket, START_TIMEOUT)
    }

    /// A client whose reads wait up to `timeout` (a slow method: a backup of a big database).
    pub fn connect_waiting(socket: &Path, timeout: Duration) -> RawClient {
        let stream = UnixStream::connect(socket).expect("connect to veild");
        stream.set_read_timeout(Some(timeout)).expect("timeout");
        let writer = stream.try_clone().expect("clone");
        RawClient {
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
        }
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    pub fn read_line(&mut self) -> Value {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .expect("read a line from veild");
        assert!(n > 0, "veild closed the connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("veild sent non-JSON ({e}): {line}"))
    }

    /// Sends `{"jsonrpc":"2.0","id":N,"method":…,"params":…}` and returns the whole response.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let req =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_bytes(format!("{req}\n").as_bytes());
        let resp = self.read_line();
        assert_eq!(resp["id"], id, "response id mismatch: {resp}");
        resp
    }

    /// Like [`request`], expecting a result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let resp = self.request(method, params);
        assert!(resp.get("error").is_none(), "{method} failed: {resp}");
        resp["result"].clone()
    }

    /// Like [`request`], expecting an error; returns its `data.code`.
    pub fn call_err(&mut self, method: &str, params: Value) -> String {
        let resp = self.request(method, params);
        resp["error"]["data"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} did not fail: {resp}"))
            .to_owned()
    }
}
