//! `veil doctor`: asks the running veild to inspect the setup (it checks as the user it runs
//! as, with its database and socket), prints each problem with its fix, and fails (exit 1)
//! when anything is an error or a warning.

use std::io::Write;

use veil_shared::api::DoctorParams;

use crate::failure::Failure;
use crate::output;
use crate::session::Session;
use crate::sink::write;

pub async fn run(
    session: &mut Session<'_>,
    json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let (raw, report) = session.call(DoctorParams {}).await?;
    let text = if json {
        output::json(&raw)
    } else {
        report.render_text()
    };
    write(out, &text)?;
    if report.ok() {
        return Ok(());
    }
    let problems = report
        .findings
        .iter()
        .filter(|f| f.severity != veil_shared::doctor::Severity::Info)
        .count();
    Err(Failure::Local(format!(
        "doctor found {problems} problem{}",
        if problems == 1 { "" } else { "s" }
    )))
}

/// Said when veild cannot be reached: the same checks run without it.
pub const OFFLINE_HINT: &str = "veil: with veild stopped, `veild --doctor --config \
                                /etc/veil/veild.toml` runs the same checks\n";
