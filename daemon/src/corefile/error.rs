//! Errors from reading or rewriting the core's config file. Every message names the file
//! (and the inbound tag where it matters) and says what to fix.

use std::path::PathBuf;

/// Why the core config could not be read or rewritten.
///
/// None of these leave a partial file behind: a failed write keeps the target
/// byte-identical and removes its temporary file.
#[derive(thiserror::Error, Debug)]
pub enum CoreFileError {
    /// The file could not be read (missing, permissions, …).
    #[error("cannot read core config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not JSON (comments as Xray allows them are accepted).
    #[error("core config {} is not valid JSON: {reason}", path.display())]
    NotJson { path: PathBuf, reason: String },

    /// The JSON is not shaped like a core config (top level not an object, no
    /// `inbounds` array).
    #[error("core config {}: {reason}", path.display())]
    BadStructure { path: PathBuf, reason: String },

    /// No inbound carries the configured tag.
    #[error(
        "core config {} has no inbound tagged \"{tag}\" (tags present: {}); set [core] \
         inbound_tag in veild.toml to the tag of the VLESS inbound Veil should manage",
        path.display(),
        list_or_none(available)
    )]
    InboundNotFound {
        path: PathBuf,
        tag: String,
        available: Vec<String>,
    },

    /// More than one inbound carries the configured tag, so which one to manage is ambiguous.
    #[error(
        "core config {} has {count} inbounds tagged \"{tag}\"; tags must be unique",
        path.display()
    )]
    DuplicateTag {
        path: PathBuf,
        tag: String,
        count: usize,
    },

    /// The tagged inbound is not a VLESS inbound.
    #[error(
        "core config {}: inbound \"{tag}\" has protocol \"{protocol}\", but Veil manages only \
         a \"vless\" inbound; point [core] inbound_tag at the VLESS inbound",
        path.display()
    )]
    NotVless {
        path: PathBuf,
        tag: String,
        protocol: String,
    },

    /// The tagged inbound's `settings` or client list has the wrong JSON type.
    #[error("core config {}: inbound \"{tag}\": {reason}", path.display())]
    BadInbound {
        path: PathBuf,
        tag: String,
        reason: String,
    },

    /// One entry of the client list is unusable (e.g. it has no `id`). `index` is
    /// 0-based, as in `settings.clients[index]`.
    #[error(
        "core config {}: inbound \"{tag}\": settings.clients[{index}]: {reason}",
        path.display()
    )]
    BadClient {
        path: PathBuf,
        tag: String,
        index: usize,
        reason: String,
    },

    /// The client list Veil was asked to write is inconsistent (e.g. two clients with one
    /// email, which the core refuses). Nothing was written.
    #[error("refusing to write core config {}: {reason}", path.display())]
    InvalidClients { path: PathBuf, reason: String },

    /// The configured test command cannot be used (e.g. it lacks the `{{config}}`
    /// placeholder). Nothing was written.
    #[error(
        "cannot test core config {}: {reason}; fix [core] test_command in veild.toml",
        path.display()
    )]
    TestCommand { path: PathBuf, reason: String },

    /// The test command could not be started (e.g. the core binary is not installed).
    #[error(
        "cannot run the config test `{command}` for {}: {reason}; fix [core] test_command in \
         veild.toml or install the core",
        path.display()
    )]
    TestSpawn {
        path: PathBuf,
        command: String,
        reason: String,
    },

    /// The core refused the new config: the test command exited non-zero. The target is
    /// unchanged.
    #[error(
        "the core rejected the new config for {} (`{command}` {status}); the file is \
         unchanged. Last output:\n{output}",
        path.display()
    )]
    TestFailed {
        path: PathBuf,
        command: String,
        /// "exited with code N" or "was killed by signal N".
        status: String,
        output: String,
    },

    /// The test command did not finish in time and was killed. The target is unchanged.
    #[error(
        "the config test `{command}` for {} did not finish within {seconds} s and was killed; \
         the file is unchanged. Last output:\n{output}",
        path.display()
    )]
    TestTimeout {
        path: PathBuf,
        command: String,
        seconds: u64,
        output: String,
    },

    /// Someone else changed the file while Veil was preparing its write. Nothing was
    /// written; reading again and retrying is safe.
    #[error(
        "core config {} changed on disk while Veil was rewriting it; nothing was written, retry",
        path.display()
    )]
    ChangedConcurrently { path: PathBuf },

    /// A filesystem step of the write failed. `step` says which (temp file, backup,
    /// rename, …). The target is unchanged unless `step` is the final directory sync.
    #[error("cannot write core config {} ({step}): {source}", path.display())]
    Write {
        path: PathBuf,
        step: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// A bug or an internal failure (e.g. a blocking task panicked).
    #[error("internal error while handling core config {}: {reason}", path.display())]
    Internal { path: PathBuf, reason: String },
}

impl CoreFileError {
    /// Whether trying again later may succeed by itself: a filesystem hiccup, a test that
    /// could not start or finish (descriptors, load), a file changed under us. A file the
    /// core rejects, or a config that is wrong, fails again until someone fixes it.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CoreFileError::Read { .. }
                | CoreFileError::TestSpawn { .. }
                | CoreFileError::TestTimeout { .. }
                | CoreFileError::ChangedConcurrently { .. }
                | CoreFileError::Write { .. }
        )
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
