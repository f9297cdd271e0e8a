//! `veild.toml`: any text is either a config or an error naming the file; never a panic.
//! (Offline: no host name is resolved.)
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/veil/veild.toml");
    if let Err(e) = veild::config::Config::parse_offline(text, path) {
        assert!(e.to_string().contains("/etc/veil/veild.toml"));
    }
});
