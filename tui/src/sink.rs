//! Writing the output, where a reader that went away is not an error.

use std::io::{self, Write};

use crate::failure::Failure;

/// Writes and flushes. `Ok(false)` when the reader went away (`veil … | head`): that ends
/// the output quietly instead of failing.
pub fn write(out: &mut impl Write, text: &str) -> Result<bool, Failure> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Failure::Local(format!("cannot write the output: {e}"))),
    }
}
