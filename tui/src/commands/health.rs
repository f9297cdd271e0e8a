//! `veil health`: prints the daemon's, the database's and the core's health, and says in its
//! exit code whether all is well, so cron or a monitoring check can use it as it is:
//! 0 healthy; 4 the core is down (or not checked yet); 5 changes are stuck (keys the core
//! refused, or a core config veild could not write); 1–3 as every command.

use std::io::Write;

use veil_shared::api::{CoreStatus, Health, HealthParams};

use crate::failure::{EXIT_CORE_DOWN, EXIT_STUCK, Failure};
use crate::output;
use crate::session::Session;
use crate::sink::write;

pub async fn run(
    session: &mut Session<'_>,
    json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let (raw, health) = session.call(HealthParams {}).await?;
    let text = if json {
        output::json(&raw)
    } else {
        output::health::health(&health)
    };
    write(out, &text)?;
    match verdict(&health) {
        None => Ok(()),
        Some((code, why)) => Err(Failure::Unhealthy { code, why }),
    }
}

/// The exit code and the reason of an unhealthy state, `None` when all is well.
pub fn verdict(h: &Health) -> Option<(u8, String)> {
    if h.core.status != CoreStatus::Up {
        return Some((
            EXIT_CORE_DOWN,
            format!(
                "the core is {}; changes wait for it ({} pending)",
                if h.core.status == CoreStatus::Down {
                    "down"
                } else {
                    "not checked yet"
                },
                h.pending
            ),
        ));
    }
    if h.refused > 0 {
        return Some((
            EXIT_STUCK,
            format!(
                "the core refused {} key change(s); `veil key show` says why",
                h.refused
            ),
        ));
    }
    if let Some(error) = h.config.as_ref().and_then(|c| c.last_error.as_ref()) {
        return Some((
            EXIT_STUCK,
            format!("the core config could not be written: {error}"),
        ));
    }
    None
}
