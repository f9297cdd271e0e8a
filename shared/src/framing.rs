//! Newline-delimited framing with a cap. A peer can never make the reader hold more than
//! `max` bytes of one line: past the cap the rest of the line is read and dropped, and the
//! caller learns how long it was, so it can answer with an error and carry on with the next.

use tokio::io::{self, AsyncBufRead, AsyncBufReadExt};

/// What one read produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line (without its `\n` or a trailing `\r`) is in the buffer.
    Complete,
    /// The line was longer than the cap; it was consumed and dropped. `bytes` is its length.
    TooLong { bytes: usize },
    /// The peer closed the stream with nothing pending.
    Eof,
}

/// Reads one line into `buf` (cleared first), holding at most `max` bytes of it.
/// A last line without a newline before EOF still counts as complete.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    buf.clear();
    let mut seen = 0usize;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if too_long {
                Line::TooLong { bytes: seen }
            } else if seen == 0 {
                Line::Eof
            } else {
                trim_cr(buf);
                Line::Complete
            });
        }
        let (chunk, found_newline) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        seen += chunk.len();
        if !too_long {
            if seen > max {
                too_long = true;
                buf.clear();
                buf.shrink_to(max.min(64 * 1024));
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = chunk.len() + usize::from(found_newline);
        reader.consume(used);
        if found_newline {
            if too_long {
                return Ok(Line::TooLong { bytes: seen });
            }
            trim_cr(buf);
            return Ok(Line::Complete);
        }
    }
}

fn trim_cr(buf: &mut Vec<u8>) {
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn lines(input: &[u8], max: usize) -> Vec<(Line, Vec<u8>)> {
        // A tiny buffer forces lines to span many fill_buf calls.
        let mut reader = BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for _ in 0..100 {
            match read_line(&mut reader, &mut buf, max).await {
                Ok(Line::Eof) => break,
                Ok(line) => out.push((line, buf.clone())),
                Err(e) => panic!("read failed: {e}"),
            }
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_and_drops_oversize_ones() {
        let got = lines(b"one\r\ntoo-long-line\nlast", 8).await;
        assert_eq!(
            got,
            vec![
                (Line::Complete, b"one".to_vec()),
                (Line::TooLong { bytes: 13 }, Vec::new()),
                (Line::Complete, b"last".to_vec()),
            ]
        );
    }

    #[tokio::test]
    async fn a_line_exactly_at_the_cap_is_kept() {
        let got = lines(b"12345678\n123456789\n", 8).await;
        assert_eq!(got[0], (Line::Complete, b"12345678".to_vec()));
        assert_eq!(got[1].0, Line::TooLong { bytes: 9 });
    }
}
