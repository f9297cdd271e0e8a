//! The doctor's report on the wire: what is wrong with a setup, each problem with its fix.
//! It is the result of the `doctor` socket method (re-exported by the `api` module).
//!
//! The checks themselves run in the daemon (`veild::doctor`), which reads the core's
//! config through [`crate::coreconfig`] and checks the machine around it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something does not work (or is unsafe) until it is fixed.
    Error,
    /// Works, but something a Veil setup relies on is off.
    Warning,
    /// Advice or a check that could not run; never fails `doctor`.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// A stable name of the check, e.g. `api_loopback` (the names are listed in
    /// `veild::doctor::checks`).
    pub check: String,
    pub severity: Severity,
    pub problem: String,
    pub fix: String,
}

impl Finding {
    pub fn new(
        check: &str,
        severity: Severity,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            check: check.to_owned(),
            severity,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    pub fn error(check: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Severity::Error, problem, fix)
    }

    pub fn warning(check: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Severity::Warning, problem, fix)
    }

    pub fn info(check: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Severity::Info, problem, fix)
    }
}

/// The result of `doctor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorReport {
    /// Every problem found, errors first.
    pub findings: Vec<Finding>,
    /// The names of the checks that ran.
    pub checked: Vec<String>,
}

impl DoctorReport {
    /// True when nothing is an error or a warning (infos do not count).
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.severity == Severity::Info)
    }

    /// Orders findings errors first, keeping the order within a severity.
    pub fn sort(&mut self) {
        self.findings.sort_by_key(|f| match f.severity {
            Severity::Error => 0,
            Severity::Warning => 1,
            Severity::Info => 2,
        });
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The report for people: each finding with its fix, then a summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&format!(
                "{} [{}] {}\n    fix: {}\n",
                f.severity.as_str(),
                f.check,
                f.problem,
                f.fix
            ));
        }
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let ran = plural(self.checked.len(), "check", "checks");
        let (errors, warnings) = (self.count(Severity::Error), self.count(Severity::Warning));
        if !self.findings.is_empty() {
            out.push('\n');
        }
        if errors + warnings == 0 {
            out.push_str(&format!("No problems found ({ran} ran).\n"));
        } else {
            out.push_str(&format!(
                "{} and {} ({ran} ran).\n",
                plural(errors, "error", "errors"),
                plural(warnings, "warning", "warnings")
            ));
        }
        out
    }
}
