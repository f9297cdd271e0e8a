//! One log line that cannot lie or leak, for veild's log and the dashboard's:
//!
//! - A line is one line: a line feed inside an event (a key name with `\n` in it) is
//!   written as `\n`, so nobody can forge a second line. Every other control character
//!   (C0, DEL, C1 — ANSI escapes start with ESC) and the bidirectional overrides that make
//!   text read in another order are written as `\u{…}`.
//! - No UUID reaches the log whole (a client's UUID is its credential): anything shaped
//!   like one — `8-4-4-4-12` hex digits, or 32 hex digits in a row — is cut to its first
//!   8 characters and `...`.
//!
//! [`ScrubWriter`] applies it to the formatted bytes of each event, so it holds for every
//! event and every format (text or JSON) without each call site having to remember.

use std::io::{self, Write};

/// A writer that scrubs each `write` (a log formatter hands over one whole event per call).
pub struct ScrubWriter<W>(W);

impl<W> ScrubWriter<W> {
    pub fn new(inner: W) -> Self {
        ScrubWriter(inner)
    }
}

impl<W: Write> Write for ScrubWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .write_all(scrub(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// One event's text made safe: see the module docs. A final line feed is kept.
pub fn scrub(text: &str) -> String {
    let (body, end) = match text.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (text, ""),
    };
    let masked = mask_uuids(body);
    let mut out = String::with_capacity(masked.len() + end.len());
    for c in masked.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if hides(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push_str(end);
    out
}

/// Control characters and the bidirectional formatting characters.
fn hides(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Lengths of the hex groups of a hyphenated UUID.
const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];

/// How long a UUID-shaped run starting at `i` is (0: none there). Runs are whole words of
/// hex: a longer hex run is not a UUID.
fn uuid_at(b: &[u8], i: usize) -> usize {
    if i > 0 && b[i - 1].is_ascii_hexdigit() {
        return 0;
    }
    let hex_run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
    let end = if hex_run == 32 {
        i + 32
    } else {
        let mut at = i;
        for (n, len) in GROUPS.iter().enumerate() {
            if n > 0 {
                if b.get(at) != Some(&b'-') {
                    return 0;
                }
                at += 1;
            }
            let run = b[at.min(b.len())..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            if run != *len {
                return 0;
            }
            at += len;
        }
        at
    };
    if b.get(end).is_some_and(u8::is_ascii_hexdigit) {
        return 0;
    }
    end - i
}

/// Every UUID-shaped run cut to its first 8 characters and `...`.
pub fn mask_uuids(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_hexdigit() {
            let len = uuid_at(b, i);
            if len > 0 {
                // ASCII boundaries: slicing here is always on char boundaries.
                out.push_str(&text[copied..i + 8]);
                out.push_str("...");
                i += len;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_cut_to_eight_characters() {
        let line = "key '6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d07' (id 24) is deleted\n";
        assert_eq!(scrub(line), "key '6f1c1f4e...' (id 24) is deleted\n");
        assert_eq!(
            mask_uuids(
                "a=6F1C1F4E8A5E4D439A571B0A4B3C2D07,b={6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d07}"
            ),
            "a=6F1C1F4E...,b={6f1c1f4e...}"
        );
        assert_eq!(
            mask_uuids("urn:uuid:6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d07x"),
            "urn:uuid:6f1c1f4e...x"
        );
    }

    #[test]
    fn other_hex_is_left_alone() {
        for text in [
            "short id 0123456789abcdef",
            "6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d07a",
            "06f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d07",
            "6f1c1f4e-8a5e-4d43-9a57",
            "sha 6f1c1f4e8a5e4d439a571b0a4b3c2d07ff",
            "Маша 🦊 ok",
        ] {
            assert_eq!(mask_uuids(text), text);
        }
    }

    #[test]
    fn a_line_stays_one_line_without_control_characters() {
        let evil = "refused key 'evil\u{1b}[31mRED\nFAKE LINE\r\u{7}\u{9b}\u{202e}'\n";
        let out = scrub(evil);
        assert_eq!(
            out,
            "refused key 'evil\\u{1b}[31mRED\\nFAKE LINE\\r\\u{7}\\u{9b}\\u{202e}'\n"
        );
        assert_eq!(out.matches('\n').count(), 1);
        assert!(!out[..out.len() - 1].chars().any(char::is_control));
    }

    #[test]
    fn the_writer_scrubs_each_event() {
        let mut sink = Vec::new();
        {
            let mut w = ScrubWriter(&mut sink);
            w.write_all(b"x 6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d07 \x1b[0m\n")
                .unwrap();
        }
        assert_eq!(
            String::from_utf8(sink).unwrap(),
            "x 6f1c1f4e... \\u{1b}[0m\n"
        );
    }
}
