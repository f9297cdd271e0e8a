//! `veil watch`: key and traffic events as they happen.

use std::io::Write;

use veil::format::utc_clock_now;

use crate::failure::Failure;
use crate::output::watch;
use crate::session::Session;
use crate::sink::write;

/// Prints events until the daemon closes the connection (a failure: exit 3, since a
/// watcher that silently stops would look like a quiet server) or the user presses Ctrl-C.
pub async fn run(
    session: &mut Session<'_>,
    json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    session.watch().await?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let event = tokio::select! {
            stop = &mut ctrl_c => {
                return stop.map_err(|e| Failure::Local(format!("cannot catch Ctrl-C: {e}")));
            }
            event = session.next_event() => event?,
        };
        let line = if json {
            watch::event_json(&event).map_err(|e| Failure::Local(e.to_string()))?
        } else {
            watch::event(&event, &utc_clock_now())
        };
        if !write(out, &line)? {
            return Ok(());
        }
    }
}
