//! A throwaway PostgreSQL cluster for fleet tests: Debian's server binaries
//! (`/usr/lib/postgresql/N/bin`), `initdb` into a temporary directory, `pg_ctl` on a free
//! loopback port, password (SCRAM) authentication over TCP like a real deployment, and a
//! database `veil` owned by the cluster's superuser `owner`. No system service is touched.
//! As root the cluster runs as the `postgres` user (initdb refuses root).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::core_harness::free_port;

pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    extra_options: String,
    owner_password: String,
    /// Runs the server's commands as this user (root runs them as `postgres`).
    run_as: Option<String>,
    _dir: tempfile::TempDir,
}

/// The newest installed server's binaries.
fn server_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql (apt-get install postgresql)")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let n = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((n, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL server under /usr/lib/postgresql")
        .1
}

impl Postgres {
    /// initdb, start, create the database `veil`.
    pub fn start() -> Postgres {
        Self::start_with("")
    }

    /// As [`start`](Self::start), with more server options (`-c name=value …`), e.g.
    /// `pg_stat_statements` for a benchmark that counts queries.
    pub fn start_with(extra_options: &str) -> Postgres {
        Self::start_full(extra_options, None)
    }

    /// A server that also speaks TLS with this certificate and key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Postgres {
        Self::start_full("-c ssl=on", Some((cert_pem, key_pem)))
    }

    fn start_full(extra_options: &str, tls: Option<(&str, &str)>) -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("veil-pg-")
            .tempdir()
            .expect("tempdir");
        let root = nix::unistd::geteuid().is_root();
        let run_as = root.then(|| "postgres".to_owned());
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        let owner_password = "owner-secret-1".to_owned();
        std::fs::write(&pwfile, &owner_password).unwrap();
        let mut extra_options = extra_options.to_owned();
        if let Some((cert, key)) = tls {
            let (cert_path, key_path) =
                (dir.path().join("server.crt"), dir.path().join("server.key"));
            std::fs::write(&cert_path, cert).unwrap();
            std::fs::write(&key_path, key).unwrap();
            std::fs::set_permissions(
                &key_path,
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .unwrap();
            extra_options.push_str(&format!(
                " -c ssl_cert_file={} -c ssl_key_file={}",
                cert_path.display(),
                key_path.display()
            ));
        }
        if root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let pg = Postgres {
            bin: server_bin(),
            data,
            port: free_port(),
            extra_options,
            owner_password,
            run_as,
            _dir: dir,
        };
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&pg.data)
            .args([
                "-U",
                "owner",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-E", "UTF8", "--no-instructions", "-N"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.start_server();
        pg.psql_in("postgres", "CREATE DATABASE veil");
        pg
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn socket_dir(&self) -> PathBuf {
        self.data.parent().unwrap().to_owned()
    }

    /// `pg_ctl start -w`: returns once the server accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off {}",
            self.port,
            self.socket_dir().display(),
            self.extra_options
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.data.parent().unwrap().join("server.log"))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            self.log()
        );
    }

    /// `pg_ctl stop -m fast -w`: every connection is cut.
    pub fn stop_server(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-m", "fast", "stop"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.parent().unwrap().join("server.log")).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The owner's connection string (TCP, password).
    pub fn owner_url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=owner password={} dbname=veil",
            self.port, self.owner_password
        )
    }

    /// A node role's connection string.
    pub fn node_url(&self, role: &str, password: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={role} password={password} dbname=veil sslmode=disable",
            self.port
        )
    }

    /// Runs SQL as the owner in the database `veil`; returns psql's unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("veil", sql)
    }

    /// Runs SQL as the owner over the local socket in database `db`.
    pub fn psql_in(&self, db: &str, sql: &str) -> String {
        let host = self.socket_dir().display().to_string();
        self.run_psql(&host, "owner", None, db, sql)
            .unwrap_or_else(|e| panic!("psql {sql}: {e}"))
    }

    /// Runs SQL as `role` (its password) over TCP; Err with psql's message on failure.
    pub fn psql_as(&self, role: &str, password: &str, sql: &str) -> Result<String, String> {
        self.run_psql("127.0.0.1", role, Some(password), "veil", sql)
    }

    /// psql, unaligned and quiet, stopping at the first error: its output, or its message.
    fn run_psql(
        &self,
        host: &str,
        user: &str,
        password: Option<&str>,
        db: &str,
        sql: &str,
    ) -> Result<String, String> {
        let mut command = self.command("psql");
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        let out = command
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                db,
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// `veild fleet ARGS…` as the registry's owner; returns what it printed.
    pub fn fleet_admin(&self, args: &[&str]) -> String {
        let out = Command::new(super::daemon::veild_bin())
            .arg("fleet")
            .args(args)
            .env("VEIL_FLEET_OWNER", self.owner_url())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "veild fleet {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "30", "-m", "immediate", "stop"])
            .output();
    }
}
