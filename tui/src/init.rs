//! `veil init`: writes a ready-to-run core config and the matching `veild.toml`.
//!
//! - `--flavor xray` (the default): VLESS + REALITY + Vision on `--port`, a fresh X25519
//!   keypair and a random shortId, the REALITY target and server names from the flags,
//!   `minClientVer` set (so sing-box based clients are not refused), the API on loopback
//!   (`api.listen`), stats and per-user stats on, the phone-friendly policy (short
//!   handshake and idle timeouts, so phones switching networks reconnect fast), and
//!   loopback/private destinations blocked for clients (they would otherwise reach the
//!   API). It holds the private key, so nobody but veild and the core may read it: the
//!   file is 0640 in the group both share (`--core-group`, default `xray-config`), and its
//!   directory belongs to that group with mode 2770 (setgid: the files veild writes there
//!   get the group too). The core joins the group through a drop-in (`scripts/install` puts
//!   it in place); the official installer runs it as `nobody`.
//! - `--flavor v2fly`: plain VLESS for local trials with Debian's v2ray 4.x, which has no
//!   REALITY or flows and ignores `api.listen` (the API is a dokodemo-door inbound).
//!
//! The written config is read back through the one model of the core's config
//! (`veil_shared::coreconfig`) that veild's config writer, its share links and the doctor
//! use, and the summary's public key is the one links will carry. Existing files are never
//! overwritten without `--force`. Nothing here talks to veild.

use std::fs::{self, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use veil_shared::clientconfig::PRIVATE_RANGES;
use veil_shared::coreconfig::{
    Flavor, MIN_CLIENT_VERSION, ManagedInbound, PHONE_POLICY_VALUES, layout,
};
use veil_shared::link::check_host;
use veil_shared::reality::{self, Endpoint, Security, VISION};

use crate::failure::Failure;

/// The core config's mode: it holds the REALITY private key; the core reads it through the
/// shared group.
pub const CORE_CONFIG_MODE: u32 = layout::FILE_MODE;
/// veild.toml holds no secret.
pub const VEILD_CONFIG_MODE: u32 = 0o644;
/// Per-connection buffer of level 0, in KiB (Xray's default is 512 on amd64).
pub const BUFFER_KIB: u64 = 64;
/// Hex characters of the generated shortId (8 bytes).
pub const SHORT_ID_CHARS: usize = 16;
/// The tag of the VLESS inbound init writes (and veild.toml's `inbound_tag`).
pub const INBOUND_TAG: &str = "vless-in";

/// `--flavor`: the workspace's [`Flavor`], as clap reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FlavorArg {
    /// Xray-core: VLESS + REALITY + Vision.
    Xray,
    /// Debian's v2ray 4.x: plain VLESS, for local trials only.
    V2fly,
}

impl From<FlavorArg> for Flavor {
    fn from(arg: FlavorArg) -> Flavor {
        match arg {
            FlavorArg::Xray => Flavor::Xray,
            FlavorArg::V2fly => Flavor::V2fly,
        }
    }
}

fn default_core_config(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Xray => "/usr/local/etc/xray/config.json",
        Flavor::V2fly => "/etc/v2ray/config.json",
    }
}

/// `veil init`. The socket path written to veild.toml is the global `--socket` (or
/// `VEIL_SOCKET`, or the default).
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The host clients dial: a DNS name or an IP address.
    #[arg(long, value_name = "HOST")]
    pub host: String,

    /// Which core the config is for.
    #[arg(long, value_enum, default_value_t = FlavorArg::Xray)]
    pub flavor: FlavorArg,

    /// REALITY target: a real TLS 1.3 site as HOST:PORT (xray only).
    #[arg(long, value_name = "HOST:PORT")]
    pub target: Option<String>,

    /// A name clients send as SNI; repeat for more [default: the target's host].
    #[arg(long = "server-name", value_name = "NAME")]
    pub server_names: Vec<String>,

    /// The port clients connect to.
    #[arg(long, default_value_t = 443, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// The address the VLESS inbound listens on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    pub listen: String,

    /// Where the core serves its API (loopback only).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:10085")]
    pub api: String,

    /// The core config to write [default: /usr/local/etc/xray/config.json, or
    /// /etc/v2ray/config.json for v2fly].
    #[arg(long, value_name = "PATH")]
    pub core_config: Option<PathBuf>,

    /// The veild config to write.
    #[arg(long, value_name = "PATH", default_value = "/etc/veil/veild.toml")]
    pub veild_config: PathBuf,

    /// The key database veild will keep.
    #[arg(long, value_name = "PATH", default_value = "/var/lib/veil/veil.db")]
    pub database: PathBuf,

    /// The group whose members may use veild's socket.
    #[arg(long, value_name = "GROUP", default_value = "veil")]
    pub socket_group: String,

    /// The group veild and the core share: it gets the core config's directory (mode 2770,
    /// setgid) and the file (0640). It must exist (`scripts/install` creates it).
    #[arg(long, value_name = "GROUP", default_value = layout::GROUP)]
    pub core_group: String,

    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// What init decided, for the summary (never the private key).
#[derive(Debug, serde::Serialize)]
pub struct Written {
    pub flavor: Flavor,
    pub core_config: PathBuf,
    /// The group of the core config and its directory.
    pub core_group: String,
    pub veild_config: PathBuf,
    pub host: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

fn usage(message: String) -> Failure {
    Failure::Usage(message)
}

/// `HOST:PORT` with a non-empty host and a port from 1 to 65535.
fn split_host_port(value: &str) -> Option<(&str, u16)> {
    let (host, port) = value.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().ok()?;
    (!host.is_empty() && port > 0).then_some((host, port))
}

fn absolute(path: &Path, flag: &str) -> Result<PathBuf, Failure> {
    std::path::absolute(path)
        .map_err(|e| usage(format!("{flag} {}: {e}", path.display())))
        .and_then(|p| match p.file_name() {
            Some(_) => Ok(p),
            None => Err(usage(format!("{flag} {} must name a file", p.display()))),
        })
}

/// Checks the flags and builds both files' contents.
pub struct Plan {
    pub written: Written,
    core_json: Value,
    veild_toml: String,
}

/// Checks `--host`, `--api`, `--listen`, `--port` and `--socket-group`; returns the API's
/// host and port.
fn check_flags(args: &InitArgs) -> Result<(&str, u16), Failure> {
    check_host(&args.host).map_err(|p| usage(format!("--host {:?} {p}", args.host)))?;
    let (api_host, api_port) = split_host_port(&args.api)
        .ok_or_else(|| usage(format!("--api {:?} must be HOST:PORT", args.api)))?;
    let loopback = api_host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(usage(format!(
            "--api {:?} must be a loopback IP address and port, e.g. 127.0.0.1:10085: the \
             core's API has no authentication",
            args.api
        )));
    }
    if args.listen.parse::<std::net::IpAddr>().is_err() {
        return Err(usage(format!(
            "--listen {:?} must be an IP address",
            args.listen
        )));
    }
    if api_port == args.port {
        return Err(usage(format!(
            "--port {} is also the API's port (--api {})",
            args.port, args.api
        )));
    }
    if args.socket_group.trim().is_empty() || args.socket_group.contains(char::is_whitespace) {
        return Err(usage(format!(
            "--socket-group {:?} must be a group name",
            args.socket_group
        )));
    }
    Ok((api_host, api_port))
}

pub fn plan(args: &InitArgs, socket: &Path) -> Result<Plan, Failure> {
    let flavor = Flavor::from(args.flavor);
    let (api_host, api_port) = check_flags(args)?;
    let core_config = absolute(
        args.core_config
            .as_deref()
            .unwrap_or(Path::new(default_core_config(flavor))),
        "--core-config",
    )?;
    let veild_config = absolute(&args.veild_config, "--veild-config")?;
    let database = absolute(&args.database, "--database")?;
    let socket = absolute(socket, "--socket")?;
    if core_config == veild_config {
        return Err(usage(
            "--core-config and --veild-config name the same file".into(),
        ));
    }

    let mut written = Written {
        flavor,
        core_config: core_config.clone(),
        core_group: args.core_group.clone(),
        veild_config: veild_config.clone(),
        host: args.host.clone(),
        port: args.port,
        public_key: None,
        short_id: None,
        server_names: Vec::new(),
        target: None,
    };
    let core_json = match flavor {
        Flavor::Xray => reality_config(args, &mut written)?,
        Flavor::V2fly => {
            if args.target.is_some() || !args.server_names.is_empty() {
                return Err(usage(
                    "--target and --server-name are for REALITY, which v2fly does not have".into(),
                ));
            }
            v2fly_config(args, api_host, api_port)
        }
    };
    written.public_key = read_back(&core_json, flavor)?;
    let veild_toml = veild_toml(args, &core_config, &database, &socket);
    Ok(Plan {
        written,
        core_json,
        veild_toml,
    })
}

/// The Xray config: checks `--target` and `--server-name`, makes a fresh keypair and
/// shortId, and notes in `written` what the summary shows.
fn reality_config(args: &InitArgs, written: &mut Written) -> Result<Value, Failure> {
    let target = args.target.clone().ok_or_else(|| {
        usage(
            "--target HOST:PORT is required for REALITY: a real TLS 1.3 site, e.g. \
                     www.example.com:443"
                .into(),
        )
    })?;
    let (target_host, _) = split_host_port(&target).ok_or_else(|| {
        usage(format!(
            "--target {target:?} must be HOST:PORT of a real TLS 1.3 site, e.g. \
                     www.example.com:443"
        ))
    })?;
    let names = if args.server_names.is_empty() {
        vec![target_host.to_owned()]
    } else {
        args.server_names.clone()
    };
    for name in &names {
        check_host(name).map_err(|p| usage(format!("--server-name {name:?} {p}")))?;
    }
    let pair = reality::generate_keypair();
    let short_id =
        reality::random_short_id(SHORT_ID_CHARS).map_err(|e| Failure::Local(e.to_string()))?;
    let config = xray_config(args, &target, &names, &pair.private_key, &short_id);
    written.short_id = Some(short_id);
    written.server_names = names;
    written.target = Some(target);
    Ok(config)
}

/// Reads the config built for `flavor` back through the shared model, as veild will: its
/// managed inbound and the endpoint links are built from. Returns the REALITY public key
/// links will carry (`None` for plain VLESS). An error here is a bug in init itself.
fn read_back(core_json: &Value, flavor: Flavor) -> Result<Option<String>, Failure> {
    let bug = |e: &dyn std::fmt::Display| {
        Failure::Local(format!(
            "internal error: the config veil init built does not read back: {e}"
        ))
    };
    let inbound = ManagedInbound::read(core_json, INBOUND_TAG).map_err(|e| bug(&e))?;
    let endpoint = Endpoint::of_inbound(&inbound, flavor).map_err(|e| bug(&e))?;
    Ok(match endpoint.security {
        Security::Reality(r) => Some(r.public_key),
        Security::None => None,
    })
}

/// Level 0: the phone-friendly timeouts (short handshake and idle timeouts, so phones
/// switching networks reconnect fast), per-user stats, a modest buffer.
fn policy(online: bool) -> Value {
    let mut level = serde_json::Map::new();
    for (key, value) in PHONE_POLICY_VALUES {
        level.insert((*key).to_owned(), json!(value));
    }
    level.insert("statsUserUplink".into(), json!(true));
    level.insert("statsUserDownlink".into(), json!(true));
    if online {
        level.insert("statsUserOnline".into(), json!(true));
    }
    level.insert("bufferSize".into(), json!(BUFFER_KIB));
    json!({
        "levels": {"0": level},
        "system": {
            "statsInboundUplink": true,
            "statsInboundDownlink": true,
            "statsOutboundUplink": true,
            "statsOutboundDownlink": true
        }
    })
}

/// Clients may not reach the server's loopback (the API is there) or private networks.
fn block_private_rule() -> Value {
    json!({"type": "field", "ip": PRIVATE_RANGES, "outboundTag": "block"})
}

fn outbounds() -> Value {
    json!([
        {"tag": "direct", "protocol": "freedom", "settings": {}},
        {"tag": "block", "protocol": "blackhole", "settings": {}}
    ])
}

pub fn xray_config(
    args: &InitArgs,
    target: &str,
    server_names: &[String],
    private_key: &str,
    short_id: &str,
) -> Value {
    json!({
        "log": {"loglevel": "warning"},
        "api": {
            "tag": "api",
            "listen": args.api,
            "services": ["HandlerService", "StatsService"]
        },
        "stats": {},
        "policy": policy(true),
        "inbounds": [{
            "tag": INBOUND_TAG,
            "listen": args.listen,
            "port": args.port,
            "protocol": "vless",
            "settings": {"clients": [], "decryption": "none", "flow": VISION},
            "streamSettings": {
                "network": "raw",
                "security": "reality",
                "realitySettings": {
                    "target": target,
                    "xver": 0,
                    "serverNames": server_names,
                    "privateKey": private_key,
                    "shortIds": [short_id],
                    "minClientVer": MIN_CLIENT_VERSION,
                    "maxTimeDiff": 0
                }
            }
        }],
        "outbounds": outbounds(),
        "routing": {"domainStrategy": "AsIs", "rules": [block_private_rule()]}
    })
}

pub fn v2fly_config(args: &InitArgs, api_host: &str, api_port: u16) -> Value {
    json!({
        "log": {"loglevel": "warning"},
        "api": {"tag": "api", "services": ["HandlerService", "StatsService"]},
        "stats": {},
        "policy": policy(false),
        "inbounds": [
            {
                "tag": "api-in",
                "listen": api_host,
                "port": api_port,
                "protocol": "dokodemo-door",
                "settings": {"address": api_host}
            },
            {
                "tag": INBOUND_TAG,
                "listen": args.listen,
                "port": args.port,
                "protocol": "vless",
                "settings": {"clients": [], "decryption": "none"},
                "streamSettings": {"network": "tcp", "security": "none"}
            }
        ],
        "outbounds": outbounds(),
        "routing": {
            "domainStrategy": "AsIs",
            "rules": [
                {"type": "field", "inboundTag": ["api-in"], "outboundTag": "api"},
                block_private_rule()
            ]
        }
    })
}

/// A TOML basic string (JSON's escapes are a subset TOML reads the same way).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn veild_toml(args: &InitArgs, core_config: &Path, database: &Path, socket: &Path) -> String {
    format!(
        "# veild's config, written by `veil init`; see the README's \"Configuration\".\n\
         socket = {socket}\n\
         database = {database}\n\
         socket_group = {group}\n\
         \n\
         [core]\n\
         flavor = {flavor}\n\
         api = {api}\n\
         inbound_tag = {tag}\n\
         config = {core}\n\
         \n\
         [public]\n\
         host = {host}\n",
        socket = toml_str(&socket.to_string_lossy()),
        database = toml_str(&database.to_string_lossy()),
        group = toml_str(&args.socket_group),
        flavor = toml_str(Flavor::from(args.flavor).as_str()),
        tag = toml_str(INBOUND_TAG),
        api = toml_str(&args.api),
        core = toml_str(&core_config.to_string_lossy()),
        host = toml_str(&args.host),
    )
}

/// The id of `--core-group`, which must exist.
fn core_group_id(name: &str) -> Result<u32, Failure> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        Ok(None) => Err(Failure::Local(format!(
            "--core-group {name}: no such group; create it (groupadd --system {name}; \
             scripts/install and the package do), or name a group veild's user and the core's \
             user are both in; nothing was written"
        ))),
        Err(e) => Err(Failure::Local(format!(
            "--core-group {name}: looking it up failed: {e}; nothing was written"
        ))),
    }
}

/// The core config's directory: created if missing, then given the shared group and mode
/// 2770 (setgid). A shared directory (`/`, or sticky like `/tmp`) is refused before anything
/// is written: its mode is not init's to change.
fn check_core_dir(core_config: &Path) -> Result<&Path, Failure> {
    let dir = core_config.parent().unwrap_or(Path::new("/"));
    let sticky = fs::metadata(dir).is_ok_and(|m| m.mode() & 0o1000 != 0);
    if dir.parent().is_none() || sticky {
        return Err(usage(format!(
            "--core-config {}: {} is shared by others; put the core config in a directory of \
             its own (e.g. /usr/local/etc/xray), which init gives the core's group",
            core_config.display(),
            dir.display()
        )));
    }
    Ok(dir)
}

fn prepare_core_dir(dir: &Path, gid: u32, group: &str) -> Result<(), Failure> {
    let fail = |what: &str, e: std::io::Error| {
        Failure::Local(format!(
            "{what} {} (group {group}, mode {:o}): {e}; run veil init as root",
            dir.display(),
            layout::DIR_MODE
        ))
    };
    fs::create_dir_all(dir).map_err(|e| fail("creating", e))?;
    std::os::unix::fs::chown(dir, None, Some(gid)).map_err(|e| fail("setting the group of", e))?;
    fs::set_permissions(dir, Permissions::from_mode(layout::DIR_MODE))
        .map_err(|e| fail("setting the mode of", e))
}

/// Writes `bytes` to `path` with exactly `mode` (and group `gid`): into a temp file beside
/// it, then renamed over it, so a reader never sees half a file.
fn write_file(path: &Path, bytes: &[u8], mode: u32, gid: Option<u32>) -> Result<(), Failure> {
    let fail =
        |what: &str, e: std::io::Error| Failure::Local(format!("{what} {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| fail("creating the directory of", e))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.veil-init-{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        if gid.is_some() {
            std::os::unix::fs::fchown(&file, None, gid)?;
        }
        // The umask may have narrowed the mode; set it exactly.
        file.set_permissions(Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(fail("writing", e));
    }
    Ok(())
}

/// Runs `veil init`: plans, refuses to overwrite without `--force`, writes both files.
pub fn run(args: &InitArgs, socket: &Path) -> Result<Written, Failure> {
    let plan = plan(args, socket)?;
    let w = &plan.written;
    let gid = core_group_id(&args.core_group)?;
    let core_dir = check_core_dir(&w.core_config)?;
    if !args.force {
        let existing: Vec<String> = [&w.core_config, &w.veild_config]
            .into_iter()
            .filter(|p| p.symlink_metadata().is_ok())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(Failure::Local(format!(
                "{} already exist{}; nothing was written (pass --force to overwrite)",
                existing.join(" and "),
                if existing.len() == 1 { "s" } else { "" }
            )));
        }
    }
    let mut core = serde_json::to_vec_pretty(&plan.core_json)
        .map_err(|e| Failure::Local(format!("cannot render the core config: {e}")))?;
    core.push(b'\n');
    prepare_core_dir(core_dir, gid, &args.core_group)?;
    write_file(&w.core_config, &core, CORE_CONFIG_MODE, Some(gid))?;
    write_file(
        &w.veild_config,
        plan.veild_toml.as_bytes(),
        VEILD_CONFIG_MODE,
        None,
    )?;
    Ok(plan.written)
}

/// The summary for people.
pub fn summary(w: &Written) -> String {
    let dir = w.core_config.parent().unwrap_or(Path::new("/")).display();
    let mut out = match w.flavor {
        Flavor::Xray => format!(
            "Wrote {} (Xray: VLESS + REALITY + Vision on port {}; it holds the private key: \
             mode 0640, group {})\n",
            w.core_config.display(),
            w.port,
            w.core_group
        ),
        Flavor::V2fly => format!(
            "Wrote {} (v2ray 4.x: plain VLESS on port {}, for local trials only; mode 0640, \
             group {})\n",
            w.core_config.display(),
            w.port,
            w.core_group
        ),
    };
    out.push_str(&format!(
        "Gave {dir} to group {} (mode 2770: veild replaces files there, the core reads them)\n",
        w.core_group
    ));
    out.push_str(&format!("Wrote {}\n", w.veild_config.display()));
    if let (Some(public_key), Some(short_id)) = (&w.public_key, &w.short_id) {
        out.push_str(&format!(
            "\nREALITY public key: {public_key}\nshortId:            {short_id}\n\
             server names:       {}\ntarget:             {}\n",
            w.server_names.join(", "),
            w.target.as_deref().unwrap_or_default()
        ));
    }
    let unit = w.flavor.unit();
    out.push_str(&format!(
        "\nNext:\n\
         1. The core and veild join group {group}: scripts/install (or the package) puts \
         SupplementaryGroups={group} in /etc/systemd/system/{unit}.d/{drop_in} and in \
         veild.service.\n\
         2. Restart the core: systemctl restart {unit}\n\
         3. Start veild: systemctl start veild (or veild --config {veild})\n\
         4. Check the setup: veil doctor\n\
         5. Add a key and show it to a phone: veil key add alice && veil key qr alice\n",
        group = w.core_group,
        drop_in = layout::DROP_IN,
        veild = w.veild_config.display()
    ));
    out
}
