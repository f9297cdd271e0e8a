//! The socket's way in: bytes split into lines under a cap, each line read as a JSON-RPC
//! envelope, its params decoded into a typed request. Nothing panics, a line is never
//! longer than the cap, and a decoded request re-encodes to itself.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use veil_shared::api::Request;
use veil_shared::framing::{self, Line};

const CAP: usize = 256;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fn check_line(line: &[u8]) {
    let Ok((envelope, _id)) = veild::ipc::conn::parse_envelope(line) else {
        return;
    };
    let Ok(request) = Request::parse(&envelope.method, envelope.params) else {
        return;
    };
    let params = request.params().expect("a parsed request encodes");
    let again = Request::parse(request.name(), Some(params)).expect("its own encoding parses");
    assert_eq!(again, request);
}

fuzz_target!(|data: &[u8]| {
    check_line(data);
    runtime().block_on(async {
        let mut reader = tokio::io::BufReader::with_capacity(7, data);
        let mut buf = Vec::new();
        for _ in 0..=data.len() {
            match framing::read_line(&mut reader, &mut buf, CAP).await {
                Ok(Line::Complete) => {
                    assert!(buf.len() <= CAP && !buf.contains(&b'\n'));
                    check_line(&buf);
                }
                Ok(Line::TooLong { bytes }) => assert!(bytes > CAP),
                Ok(Line::Eof) | Err(_) => return,
            }
        }
        panic!("more lines than bytes");
    });
});
