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
    pub extra_core: String,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            socket_group: current_group(),
            extra_core: String::new(),
        }
    }
}

/// The name of this process's effective group, so a test daemon accepts its own test.
pub fn current_group() -> String {
    let gid = nix::unistd::getegid();
    nix::unistd::Group::from_gid(gid)
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| "root".into())
}

pub struct Daemon {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub database: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    pub fn write_config(dir: &Path, cfg: &DaemonConfig) -> PathBuf {
        let config = dir.join("veild.toml");
        let text = format!(
            "socket = \"{sock}\"\ndatabase = \"{db}\"\nsocket_group = \"{group}\"\n\
             [core]\nflavor = \"v2fly\"\napi = \"127.0.0.1:1\"\nconfig = \"{core}\"\n{extra}\n\
             [public]\nhost = \"127.0.0.1\"\n",
            sock = dir.join("veil.sock").display(),
            db = dir.join("veil.db").display(),
            group = cfg.socket_group,
            core = dir.join("core.json").display(),
            extra = cfg.extra_core,
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
        let child = Command::new(veild_bin())
            .arg("--config")
            .arg(&self.config)
            .env("NOTIFY_SOCKET", &notify_path)
            .env("RUST_LOG", "veild=debug,info")
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
                Ok(_) => continue,
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
    let out = Command::new(veil_bin())
        .arg("--socket")
        .arg(socket)
        .args(args)
        .env_remove("VEIL_SOCKET")
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
        let stream = UnixStream::connect(socket).expect("connect to veild");
        stream
            .set_read_timeout(Some(START_TIMEOUT))
            .expect("timeout");
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
