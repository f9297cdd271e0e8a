//! Running the core's own config test (`xray run -test -config {config}`) on a candidate
//! file, with a deadline and the tail of its output for the error message.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use super::error::CoreFileError;

/// The placeholder replaced by the candidate file's path.
pub const CONFIG_PLACEHOLDER: &str = "{config}";
/// Lines of output quoted in an error.
const TAIL_LINES: usize = 20;
/// Characters kept of each quoted line.
const TAIL_LINE_CHARS: usize = 400;

/// Runs `command` with [`CONFIG_PLACEHOLDER`] replaced by `candidate`. `target` only names
/// the file in errors. An empty command means "no test" and passes.
pub(super) async fn run_test(
    target: &Path,
    command: &[String],
    candidate: &Path,
    timeout: Duration,
) -> Result<(), CoreFileError> {
    let Some((program, _)) = command.split_first() else {
        return Ok(());
    };
    if !command.iter().any(|a| a.contains(CONFIG_PLACEHOLDER)) {
        return Err(CoreFileError::TestCommand {
            path: target.to_owned(),
            reason: format!(
                "test_command {command:?} has no {CONFIG_PLACEHOLDER} placeholder, so it would \
                 not test the new file"
            ),
        });
    }
    let args: Vec<OsString> = command
        .iter()
        .map(|a| substitute(a, candidate.as_os_str()))
        .collect();
    let shown = args
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");

    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills anything it started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| CoreFileError::TestSpawn {
        path: target.to_owned(),
        command: program.clone(),
        reason: e.to_string(),
    })?;
    let pid = child.id();
    let (finished, stdout, stderr) = wait_reading(&mut child, timeout).await;

    match finished {
        Some(Ok(status)) if status.success() => Ok(()),
        Some(Ok(status)) => Err(CoreFileError::TestFailed {
            path: target.to_owned(),
            command: shown,
            status: describe(status),
            output: tail(&stdout, &stderr),
        }),
        Some(Err(e)) => Err(CoreFileError::TestSpawn {
            path: target.to_owned(),
            command: program.clone(),
            reason: format!("waiting for it failed: {e}"),
        }),
        None => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.kill().await;
            Err(CoreFileError::TestTimeout {
                path: target.to_owned(),
                command: shown,
                seconds: timeout.as_secs(),
                output: tail(&stdout, &stderr),
            })
        }
    }
}

/// Waits for `child` to exit while reading its stdout and stderr, for at most `timeout`.
/// Returns its exit (`None`: the deadline passed) and what it printed so far.
async fn wait_reading(
    child: &mut Child,
    timeout: Duration,
) -> (Option<std::io::Result<ExitStatus>>, Vec<u8>, Vec<u8>) {
    let mut stdout_pipe = child.stdout.take();
    let mut stderr_pipe = child.stderr.take();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let finished = tokio::time::timeout(timeout, async {
        let read_out = async {
            if let Some(p) = stdout_pipe.as_mut() {
                let _ = p.read_to_end(&mut stdout).await;
            }
        };
        let read_err = async {
            if let Some(p) = stderr_pipe.as_mut() {
                let _ = p.read_to_end(&mut stderr).await;
            }
        };
        let (status, (), ()) = tokio::join!(child.wait(), read_out, read_err);
        status
    })
    .await
    .ok();
    (finished, stdout, stderr)
}

/// `arg` with every placeholder replaced by `path` (kept as an `OsString`, so any path works).
fn substitute(arg: &str, path: &std::ffi::OsStr) -> OsString {
    let mut out = OsString::new();
    let mut parts = arg.split(CONFIG_PLACEHOLDER);
    if let Some(first) = parts.next() {
        out.push(first);
    }
    for part in parts {
        out.push(path);
        out.push(part);
    }
    out
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        (None, None) => format!("failed ({status})"),
    }
}

/// The last non-empty lines of stdout then stderr, each cut to a readable length.
pub(super) fn tail(stdout: &[u8], stderr: &[u8]) -> String {
    let out = String::from_utf8_lossy(stdout);
    let err = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = out
        .lines()
        .chain(err.lines())
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return "  (no output)".to_owned();
    }
    lines[lines.len().saturating_sub(TAIL_LINES)..]
        .iter()
        .map(|l| {
            let mut line: String = l.chars().take(TAIL_LINE_CHARS).collect();
            if l.chars().count() > TAIL_LINE_CHARS {
                line.push('…');
            }
            format!("  {line}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::ffi::OsStr;

    fn cmd(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn substitutes_everywhere() {
        assert_eq!(
            substitute("{config}", OsStr::new("/a b")),
            OsStr::new("/a b")
        );
        assert_eq!(
            substitute("-c={config}", OsStr::new("/x")),
            OsStr::new("-c=/x")
        );
        assert_eq!(
            substitute("{config}:{config}", OsStr::new("p")),
            OsStr::new("p:p")
        );
        assert_eq!(substitute("-test", OsStr::new("p")), OsStr::new("-test"));
    }

    #[test]
    fn tails_output() {
        let many: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let t = tail(many.as_bytes(), b"\nlast err\n");
        assert!(
            !t.contains("line 10\n") && t.contains("line 30") && t.ends_with("last err"),
            "{t}"
        );
        assert_eq!(t.lines().count(), TAIL_LINES);
        assert_eq!(tail(b"", b"\n\n"), "  (no output)");
        let long = "x".repeat(1000);
        assert!(tail(long.as_bytes(), b"").chars().count() < 410);
    }

    #[tokio::test]
    async fn runs_commands() {
        let t = Path::new("/etc/x/config.json");
        let c = Path::new("/tmp/candidate.json");
        let secs = Duration::from_secs(5);
        run_test(t, &[], c, secs).await.unwrap();
        run_test(t, &cmd(&["true", "{config}"]), c, secs)
            .await
            .unwrap();
        run_test(
            t,
            &cmd(&["sh", "-c", "test \"$0\" = /tmp/candidate.json", "{config}"]),
            c,
            secs,
        )
        .await
        .unwrap();

        let e = run_test(
            t,
            &cmd(&["sh", "-c", "echo out; echo bad >&2; exit 3; {config}"]),
            c,
            secs,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, CoreFileError::TestFailed { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("exited with code 3") && msg.contains("out") && msg.contains("bad"),
            "{msg}"
        );
        assert!(msg.contains("/etc/x/config.json"), "{msg}");

        let e = run_test(t, &cmd(&["sh", "-c", "kill -9 $$; {config}"]), c, secs)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("killed by signal 9"), "{e}");

        let e = run_test(t, &cmd(&["true"]), c, secs).await.unwrap_err();
        assert!(matches!(e, CoreFileError::TestCommand { .. }), "{e}");

        let e = run_test(t, &cmd(&["/nonexistent/xray", "{config}"]), c, secs)
            .await
            .unwrap_err();
        assert!(matches!(e, CoreFileError::TestSpawn { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/xray"), "{e}");
    }

    #[tokio::test]
    async fn times_out_and_kills_the_group() {
        let t = Path::new("/etc/x/config.json");
        let c = Path::new("/tmp/candidate.json");
        let started = std::time::Instant::now();
        // The shell starts a grandchild that keeps the pipes open; both must go.
        let e = run_test(
            t,
            &cmd(&["sh", "-c", "echo started; sleep 30 & wait; {config}"]),
            c,
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(e, CoreFileError::TestTimeout { .. }), "{e}");
        assert!(e.to_string().contains("started"), "{e}");
    }
}
