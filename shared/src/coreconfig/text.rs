//! The config file's text: JSON with the comments the cores accept.

use serde_json::Value;
use thiserror::Error;

use super::json::json_type;

/// A parsed config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedConfig {
    /// The document; always a JSON object.
    pub root: Value,
    /// The file had `//`, `/* */` or `#` comments, which a rewrite drops.
    pub had_comments: bool,
}

/// Why the bytes are not a core config. The messages do not name the file; callers add it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON, even with comments blanked.
    #[error("{0}")]
    NotJson(String),
    /// JSON, but the top level is not an object.
    #[error("the top level must be a JSON object, found {0}")]
    NotObject(&'static str),
}

/// Parses a config file's bytes as the cores do: comments as v2ray/Xray accept them are
/// blanked first, and a UTF-8 byte-order mark is skipped.
pub fn parse(bytes: &[u8]) -> Result<ParsedConfig, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let stripped = strip_comments(bytes);
    let had_comments = stripped.is_some();
    let text = stripped.as_deref().unwrap_or(bytes);
    let root: Value =
        serde_json::from_slice(text).map_err(|e| ParseError::NotJson(e.to_string()))?;
    if !root.is_object() {
        return Err(ParseError::NotObject(json_type(&root)));
    }
    Ok(ParsedConfig { root, had_comments })
}

/// Where [`strip_comments`] is in the text.
#[derive(Clone, Copy, PartialEq)]
enum St {
    Normal,
    Str,
    StrEscape,
    /// A `/` that may start a comment.
    Slash,
    Line,
    Block,
    BlockStar,
}

/// Blanks the comments v2ray and Xray accept in JSON configs (`// …`, `/* … */`, `# …`
/// outside strings), keeping line breaks so error positions stay right. `None` when
/// there were no comments.
pub fn strip_comments(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut st = St::Normal;
    let mut found = false;
    for &b in input {
        st = match st {
            St::Normal | St::Slash => outside(st, b, &mut out, &mut found),
            St::Str | St::StrEscape => {
                out.push(b);
                match (st, b) {
                    (St::Str, b'\\') => St::StrEscape,
                    (St::Str, b'"') => St::Normal,
                    _ => St::Str,
                }
            }
            St::Line | St::Block | St::BlockStar => in_comment(st, b, &mut out),
        };
    }
    if st == St::Slash {
        out.push(b'/');
    }
    found.then_some(out)
}

/// One byte outside strings and comments (or right after a `/`).
fn outside(st: St, b: u8, out: &mut Vec<u8>, found: &mut bool) -> St {
    match (st, b) {
        (St::Slash, b'/' | b'*') => {
            *found = true;
            out.extend_from_slice(b"  ");
            if b == b'/' { St::Line } else { St::Block }
        }
        _ => {
            if st == St::Slash {
                out.push(b'/');
            }
            match b {
                b'"' => {
                    out.push(b);
                    St::Str
                }
                b'/' => St::Slash,
                b'#' => {
                    *found = true;
                    out.push(b' ');
                    St::Line
                }
                _ => {
                    out.push(b);
                    St::Normal
                }
            }
        }
    }
}

/// One byte inside a comment: blanked, line breaks kept.
fn in_comment(st: St, b: u8, out: &mut Vec<u8>) -> St {
    if b == b'\n' {
        out.push(b);
        return if st == St::Line {
            St::Normal
        } else {
            St::Block
        };
    }
    out.push(b' ');
    match (st, b) {
        (St::Line, _) => St::Line,
        (_, b'*') => St::BlockStar,
        (St::BlockStar, b'/') => St::Normal,
        _ => St::Block,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn comments_are_accepted() {
        let text = "\u{feff}// top\n{ # hash\n  \"a\": \"x // not a comment # nor this /* */\", /* block\n * more */ \"b\": \"q\\\"//\",\n  \"c\": 1 / 1 }";
        // `1 / 1` is not JSON, but the slash must survive stripping for the error to be right.
        let stripped = strip_comments(text.as_bytes()).unwrap();
        let s = String::from_utf8(stripped).unwrap();
        assert!(s.contains("\"x // not a comment # nor this /* */\""), "{s}");
        assert!(s.contains("\"q\\\"//\""), "{s}");
        assert!(s.contains("1 / 1"), "{s}");
        assert_eq!(s.lines().count(), text.lines().count());
        let ok = "/* c */ {\"inbounds\": [] // trailing\n}";
        let d = parse(ok.as_bytes()).unwrap();
        assert!(d.had_comments);
        assert_eq!(d.root, json!({"inbounds": []}));
        assert!(strip_comments(b"{\"a\": \"//\"}").is_none());
        assert!(!parse(b"{}").unwrap().had_comments);
        // A block comment ends at `*/` even after several stars, and may span lines.
        let s = strip_comments(b"{/** a **/\"k\"/*\n*/:1}").unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&s).unwrap(),
            json!({"k": 1})
        );
    }

    #[test]
    fn refuses_what_is_not_a_config() {
        assert!(matches!(
            parse(b"{\"inbounds\": ["),
            Err(ParseError::NotJson(_))
        ));
        let e = parse(b"{\"a\":\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert_eq!(parse(b"[1]"), Err(ParseError::NotObject("an array")));
    }
}
