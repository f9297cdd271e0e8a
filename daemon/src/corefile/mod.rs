//! The core's config file, kept in step with the key database (the seed's rule: every
//! write is checked, atomic and backed up first).
//!
//! The operator's config is the source of truth for everything except the client list of
//! one inbound, the one tagged `[core] inbound_tag`. Veil replaces only
//! `settings.clients` of that inbound and keeps every other value, and the order of every
//! object's keys, as the operator wrote them.
//!
//! # A write, step by step ([`CoreFile::write_clients`])
//!
//! 1. Read and parse the current file (`//`, `/* */` and `#` comments, which the cores
//!    accept, are read too; a rewrite drops them and logs a warning).
//! 2. Replace the client list. Render: pretty, 2-space indent, trailing newline.
//!    If the bytes equal the file's, stop: [`WriteOutcome::Unchanged`], no test, no write.
//! 3. Check that the rendered bytes parse back to the same document.
//! 4. Write them to a temp file in the target's directory, named
//!    `.<stem>.veil-tmp-<pid>-<n>.<ext>` (e.g. `.config.veil-tmp-812-0.json`: it keeps the
//!    extension, because Xray picks the config format from it), with the target's mode
//!    and, where permitted, its owner and group (0600 if the target's cannot be read).
//! 5. Run the test command with `{config}` replaced by the temp path (30 s deadline, then
//!    it and its process group are killed). A non-zero exit fails the write with the exit
//!    code and the last lines of its output.
//! 6. fsync the temp file; check the target still holds the bytes read in step 1 (else
//!    [`CoreFileError::ChangedConcurrently`]: an operator's edit is never overwritten).
//! 7. Back up the current file as `<name>.bak.<UTC yyyymmddThhmmss.mmmZ>` beside it (a hard
//!    link, see the `backup` module), then delete the oldest backups beyond
//!    `keep_backups`.
//! 8. Rename the temp file over the target and fsync the directory.
//!
//! On any failure before step 8 the temp file is removed and the target is untouched;
//! readers only ever see the old file or the new one, never a partial one. A symlinked
//! target is resolved and the file it points to is replaced (the link stays).
//!
//! Writes through one [`CoreFile`] are serialized.

mod backup;
mod check;
mod client;
mod document;
mod error;
mod fsops;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;

pub use self::check::CONFIG_PLACEHOLDER;
pub use self::client::name_from_email;
pub use self::error::CoreFileError;
/// One client entry of the managed inbound, as the shared model of the core's config reads it.
pub use veil_shared::coreconfig::InboundClient as FileClient;
pub use veil_shared::coreconfig::ManagedInbound;

use self::fsops::{FileMeta, TempFile};

/// Backups kept unless configured otherwise.
pub const DEFAULT_KEEP_BACKUPS: usize = 10;
/// How long the test command may run.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Parses a config file's bytes as the cores do (comments and a byte-order mark allowed)
/// into a JSON value; `path` only names the file in errors.
pub fn parse_json(path: &Path, bytes: &[u8]) -> Result<Value, CoreFileError> {
    Ok(document::parse(path, bytes)?.root)
}

/// Runs `test_command` ([`CONFIG_PLACEHOLDER`] replaced by `path`) on the file at `path`
/// itself, with a deadline. An empty command passes.
pub async fn test_file(
    path: &Path,
    test_command: &[String],
    timeout: Duration,
) -> Result<(), CoreFileError> {
    check::run_test(path, test_command, path, timeout).await
}

/// The file's new bytes: `current` with the managed inbound's client list replaced by
/// `managed`, followed by the clients no key owns (kept as they are). Pure: no IO. The
/// result is checked to read back to the same document.
pub fn patch_clients(
    path: &Path,
    current: &[u8],
    tag: &str,
    managed: &[FileClient],
    is_managed: impl Fn(&FileClient) -> bool,
) -> Result<(Vec<u8>, Vec<Value>), CoreFileError> {
    let patched = patch(path, current, tag, managed, |doc, path| {
        Ok(document::managed_inbound(doc, path, tag)?.unmanaged(is_managed))
    })?;
    Ok((patched.bytes, patched.keep))
}

/// A rewrite of the file, before it is written.
struct Patched {
    bytes: Vec<u8>,
    /// The clients no key owns, kept.
    keep: Vec<Value>,
    /// The original had comments (a rewrite drops them).
    had_comments: bool,
}

fn patch(
    path: &Path,
    current: &[u8],
    tag: &str,
    managed: &[FileClient],
    keep_of: impl FnOnce(&document::Document, &Path) -> Result<Vec<Value>, CoreFileError>,
) -> Result<Patched, CoreFileError> {
    let mut doc = document::parse(path, current)?;
    let keep = keep_of(&doc, path)?;
    check_clients(path, managed, &keep)?;
    let clients: Vec<Value> = managed
        .iter()
        .map(FileClient::to_json)
        .chain(keep.iter().cloned())
        .collect();
    document::set_clients(&mut doc, path, tag, clients)?;
    let rendered = document::render(&doc.root).map_err(|e| internal(path, e))?;
    if rendered != current {
        reads_back(path, &rendered, &doc.root)?;
    }
    Ok(Patched {
        bytes: rendered,
        keep,
        had_comments: doc.had_comments,
    })
}

/// What [`CoreFile::write_clients`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file was tested and replaced.
    Written,
    /// The file already held exactly these bytes; nothing was tested or written.
    Unchanged,
}

/// The core's config file and how Veil rewrites it.
#[derive(Debug)]
pub struct CoreFile {
    path: PathBuf,
    inbound_tag: String,
    test_command: Vec<String>,
    keep_backups: usize,
    test_timeout: Duration,
    writes: AtomicU64,
    temp_counter: AtomicU64,
    write_lock: Mutex<()>,
}

impl CoreFile {
    /// `test_command` is run on every candidate file with [`CONFIG_PLACEHOLDER`] replaced by
    /// its path (an empty command skips the test). `keep_backups` is how many backups to keep
    /// (0: none are made, and old ones are deleted on the next write).
    pub fn new(
        path: PathBuf,
        inbound_tag: String,
        test_command: Vec<String>,
        keep_backups: usize,
    ) -> Self {
        CoreFile {
            path,
            inbound_tag,
            test_command,
            keep_backups,
            test_timeout: DEFAULT_TEST_TIMEOUT,
            writes: AtomicU64::new(0),
            temp_counter: AtomicU64::new(0),
            write_lock: Mutex::new(()),
        }
    }

    /// Replaces the test command's deadline ([`DEFAULT_TEST_TIMEOUT`]).
    #[must_use]
    pub fn with_test_timeout(mut self, timeout: Duration) -> Self {
        self.test_timeout = timeout;
        self
    }

    /// The configured path (a symlink is resolved only when writing).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn inbound_tag(&self) -> &str {
        &self.inbound_tag
    }

    /// How many writes have replaced the file since this value was made.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Reads and parses the file and returns the managed inbound.
    pub async fn load(&self) -> Result<ManagedInbound, CoreFileError> {
        let bytes = self.read(&self.path).await?;
        let doc = document::parse(&self.path, &bytes)?;
        document::managed_inbound(&doc, &self.path, &self.inbound_tag)
    }

    /// The raw entries of the clients in the file for which `is_managed` is false (the ones
    /// Veil does not own), in file order, for passing back as `keep`.
    pub async fn unmanaged_clients(
        &self,
        is_managed: impl Fn(&FileClient) -> bool,
    ) -> Result<Vec<Value>, CoreFileError> {
        Ok(self.load().await?.unmanaged(is_managed))
    }

    /// Makes the managed inbound's client list `managed` (in this order) followed by `keep`
    /// (verbatim), testing the result with the core before it replaces the file. See the
    /// module documentation for the steps and guarantees.
    ///
    /// Give clients in a stable order (e.g. by key id) so that an unchanged set renders
    /// to the same bytes and is recognized as [`WriteOutcome::Unchanged`].
    pub async fn write_clients(
        &self,
        managed: &[FileClient],
        keep: &[Value],
    ) -> Result<WriteOutcome, CoreFileError> {
        let given = |_: &document::Document, _: &Path| Ok(keep.to_vec());
        Ok(self.write_inner(managed, given).await?.0)
    }

    /// Like [`CoreFile::write_clients`], but the clients to keep are taken from the very
    /// bytes being replaced: every client in the file for which `is_managed` is false.
    /// This closes the window in which an operator's edit between
    /// [`CoreFile::unmanaged_clients`] and the write would be lost. Returns the kept
    /// entries with the outcome.
    pub async fn write_clients_keeping_unmanaged(
        &self,
        managed: &[FileClient],
        is_managed: impl Fn(&FileClient) -> bool,
    ) -> Result<(WriteOutcome, Vec<Value>), CoreFileError> {
        let tag = self.inbound_tag.as_str();
        let from_file = |doc: &document::Document, path: &Path| {
            Ok(document::managed_inbound(doc, path, tag)?.unmanaged(is_managed))
        };
        self.write_inner(managed, from_file).await
    }

    async fn write_inner(
        &self,
        managed: &[FileClient],
        keep_of: impl FnOnce(&document::Document, &Path) -> Result<Vec<Value>, CoreFileError>,
    ) -> Result<(WriteOutcome, Vec<Value>), CoreFileError> {
        let _serial = self.write_lock.lock().await;
        let target = self.resolve_target().await;
        let path = target.as_path();

        let current = self.read(path).await?;
        let Patched {
            bytes: rendered,
            keep,
            had_comments,
        } = patch(path, &current, &self.inbound_tag, managed, keep_of)?;
        if rendered == current {
            return Ok((WriteOutcome::Unchanged, keep));
        }

        let (dir, file_name) = split_target(path)?;
        let temp_path = dir.join(self.temp_name(&file_name));
        let meta = FileMeta::of(path);
        if meta.was_open_to_others {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.mode),
                "the core config was readable by every local user and lists every client's \
                 UUID; veild writes it without access for others. The core must read it as \
                 its owner or through its group (`veil doctor` checks)"
            );
        }
        let (temp, temp_file) = {
            let target_owned = path.to_owned();
            blocking(path, move || {
                let temp = TempFile::new(temp_path);
                match fsops::create_like(temp.path(), meta, &rendered) {
                    Ok(file) => Ok((temp, file)),
                    Err(source) => Err(CoreFileError::Write {
                        path: target_owned,
                        step: "writing the temp file",
                        source,
                    }),
                }
            })
            .await??
        };

        check::run_test(path, &self.test_command, temp.path(), self.test_timeout).await?;

        let keep_backups = self.keep_backups;
        let target_owned = path.to_owned();
        let backup = blocking(path, move || {
            commit(
                &target_owned,
                &dir,
                &file_name,
                temp,
                temp_file,
                &current,
                meta,
                keep_backups,
            )
        })
        .await??;

        self.writes.fetch_add(1, Ordering::Relaxed);
        if had_comments {
            tracing::warn!(
                path = %path.display(),
                "the core config had comments, which JSON rewriting cannot keep; the previous \
                 version with its comments is in the backups"
            );
        }
        tracing::info!(
            path = %path.display(),
            clients = managed.len() + keep.len(),
            backup = backup.as_ref().map(|b| b.display().to_string()),
            "core config rewritten"
        );
        Ok((WriteOutcome::Written, keep))
    }

    async fn read(&self, path: &Path) -> Result<Vec<u8>, CoreFileError> {
        tokio::fs::read(path)
            .await
            .map_err(|source| CoreFileError::Read {
                path: path.to_owned(),
                source,
            })
    }

    /// The file to replace: the configured path, or what it links to.
    async fn resolve_target(&self) -> PathBuf {
        match tokio::fs::symlink_metadata(&self.path).await {
            Ok(m) if m.file_type().is_symlink() => tokio::fs::canonicalize(&self.path)
                .await
                .unwrap_or_else(|_| self.path.clone()),
            _ => self.path.clone(),
        }
    }

    /// `.<stem>.veil-tmp-<pid>-<n>[.<ext>]`: hidden, unique, and with the target's
    /// extension (Xray chooses the config format from it).
    fn temp_name(&self, file_name: &str) -> String {
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let prefix = temp_prefix(file_name);
        match file_name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => format!("{prefix}{pid}-{n}.{ext}"),
            _ => format!("{prefix}{pid}-{n}"),
        }
    }
}

/// What every temp file name for `file_name` starts with, up to the pid.
fn temp_prefix(file_name: &str) -> String {
    match file_name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => format!(".{stem}.veil-tmp-"),
        _ => format!(".{file_name}.veil-tmp-"),
    }
}

/// Removes temp files a crashed earlier veild left beside the target (another pid; ours
/// may be in use by a concurrent write).
fn remove_stale_temps(dir: &Path, file_name: &str) {
    let prefix = temp_prefix(file_name);
    let own = format!("{}-", std::process::id());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let pid_part = rest.split('-').next().unwrap_or_default();
        let is_temp = !pid_part.is_empty() && pid_part.bytes().all(|b| b.is_ascii_digit());
        if is_temp && !rest.starts_with(&own) && entry.file_type().is_ok_and(|t| t.is_file()) {
            tracing::info!(path = %entry.path().display(), "removing a stale temp file");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Steps 6–8: fsync the candidate, verify the target did not change, back up, prune,
/// rename, fsync the directory. Returns the backup made, if any.
#[allow(clippy::too_many_arguments)]
fn commit(
    target: &Path,
    dir: &Path,
    file_name: &str,
    temp: TempFile,
    temp_file: std::fs::File,
    read_bytes: &[u8],
    meta: FileMeta,
    keep_backups: usize,
) -> Result<Option<PathBuf>, CoreFileError> {
    let fail = |step: &'static str| {
        move |source: std::io::Error| CoreFileError::Write {
            path: target.to_owned(),
            step,
            source,
        }
    };
    temp_file
        .sync_all()
        .map_err(fail("syncing the temp file"))?;
    drop(temp_file);

    let now = std::fs::read(target).map_err(fail("re-reading the target"))?;
    if now != read_bytes {
        return Err(CoreFileError::ChangedConcurrently {
            path: target.to_owned(),
        });
    }

    let backup = if keep_backups > 0 {
        let stamp = backup::stamp(time::OffsetDateTime::now_utc());
        let made = backup::create(dir, file_name, target, read_bytes, meta, &stamp)
            .map_err(fail("backing up the current file"))?;
        Some(made)
    } else {
        None
    };
    if let Err(e) = backup::prune(dir, file_name, keep_backups) {
        // Old backups piling up is no reason to refuse the write.
        tracing::warn!(dir = %dir.display(), error = %e, "could not delete old config backups");
    }
    remove_stale_temps(dir, file_name);

    if let Err(e) = std::fs::rename(temp.path(), target) {
        if let Some(b) = &backup {
            let _ = std::fs::remove_file(b);
        }
        return Err(fail("renaming the new file into place")(e));
    }
    temp.keep();
    fsops::sync_dir(dir).map_err(fail("syncing the directory after the rename"))?;
    Ok(backup)
}

/// Step 3 of a write: the rendered bytes parse back to the same document.
fn reads_back(path: &Path, rendered: &[u8], root: &Value) -> Result<(), CoreFileError> {
    match serde_json::from_slice::<Value>(rendered) {
        Ok(reparsed) if reparsed == *root => Ok(()),
        Ok(_) => Err(internal(path, "the rendered config reads back differently")),
        Err(e) => Err(internal(
            path,
            format!("the rendered config is not JSON: {e}"),
        )),
    }
}

/// Refuses client lists the core would refuse for reasons Veil can see: a managed client
/// without an id, or two clients with one email (the cores compare emails ignoring case).
fn check_clients(path: &Path, managed: &[FileClient], keep: &[Value]) -> Result<(), CoreFileError> {
    let refuse = |reason: String| CoreFileError::InvalidClients {
        path: path.to_owned(),
        reason,
    };
    if let Some(c) = managed.iter().find(|c| c.id.trim().is_empty()) {
        return Err(refuse(format!(
            "managed client \"{}\" has an empty id",
            c.email
        )));
    }
    let emails = managed.iter().map(|c| c.email.as_str()).chain(
        keep.iter()
            .filter_map(|v| v.get("email").and_then(Value::as_str)),
    );
    let mut seen = std::collections::HashSet::new();
    for email in emails.filter(|e| !e.is_empty()) {
        if !seen.insert(email.to_lowercase()) {
            return Err(refuse(format!(
                "two clients have the email \"{email}\"; the core requires unique emails"
            )));
        }
    }
    Ok(())
}

fn split_target(path: &Path) -> Result<(PathBuf, String), CoreFileError> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| internal(path, "the config path has no UTF-8 file name"))?
        .to_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((dir, file_name))
}

fn internal(path: &Path, reason: impl std::fmt::Display) -> CoreFileError {
    CoreFileError::Internal {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Runs blocking filesystem work off the async threads; an I/O error is reported with the
/// step it happened in.
async fn blocking<T, E>(
    path: &Path,
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<Result<T, E>, CoreFileError>
where
    T: Send + 'static,
    E: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(path, format!("a file task failed: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn temp_names_keep_the_extension() {
        let f = CoreFile::new("/x/config.json".into(), "t".into(), vec![], 1);
        let pid = std::process::id();
        assert_eq!(
            f.temp_name("config.json"),
            format!(".config.veil-tmp-{pid}-0.json")
        );
        assert_eq!(
            f.temp_name("config.json"),
            format!(".config.veil-tmp-{pid}-1.json")
        );
        assert_eq!(f.temp_name("config"), format!(".config.veil-tmp-{pid}-2"));
        assert_eq!(f.temp_name(".hidden"), format!("..hidden.veil-tmp-{pid}-3"));
        assert_eq!(temp_prefix("a.b.json"), ".a.b.veil-tmp-");
    }

    #[test]
    fn removes_only_stale_temps() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pid = std::process::id();
        let names = [
            ".config.veil-tmp-0-3.json".to_owned(),
            format!(".config.veil-tmp-{pid}-0.json"),
            ".config.veil-tmp-notes".to_owned(),
            "config.json".to_owned(),
            ".other.veil-tmp-0-1.json".to_owned(),
        ];
        for n in &names {
            std::fs::write(d.join(n), "x").unwrap();
        }
        remove_stale_temps(d, "config.json");
        let left: Vec<bool> = names.iter().map(|n| d.join(n).exists()).collect();
        assert_eq!(left, [false, true, true, true, true]);
    }

    #[test]
    fn refuses_duplicate_emails_and_empty_ids() {
        let p = Path::new("/x/config.json");
        let c = |id: &str, email: &str| FileClient {
            id: id.into(),
            email: email.into(),
            level: 0,
            flow: String::new(),
        };
        check_clients(
            p,
            &[c("a", "x@v"), c("b", "y@v"), c("c", ""), c("d", "")],
            &[],
        )
        .unwrap();
        let e =
            check_clients(p, &[c("a", "x@v")], &[serde_json::json!({"email": "X@v"})]).unwrap_err();
        assert!(
            e.to_string().contains("X@v") && e.to_string().contains(p.to_str().unwrap()),
            "{e}"
        );
        let e = check_clients(p, &[c(" ", "x@v")], &[]).unwrap_err();
        assert!(e.to_string().contains("empty id"), "{e}");
    }
}
