//! The core's config file: the reader (JSON with comments) and the client-list patcher.
//! Nothing panics; a patched file reads back with exactly the clients given, followed by
//! those no key owns, everything else kept.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use veil_shared::coreconfig::{self, InboundClient, ManagedInbound};

const TAG: &str = "vless-in";

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = coreconfig::parse(data) else {
        return;
    };
    let Ok(before) = ManagedInbound::read(&parsed.root, TAG) else {
        return;
    };
    let managed = vec![InboundClient {
        id: "6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d07".into(),
        email: "key-1@veil".into(),
        level: 0,
        flow: String::new(),
    }];
    let is_managed = |c: &InboundClient| c.email == "key-1@veil";
    let path = Path::new("/fuzz/config.json");
    let Ok((bytes, kept)) = veild::corefile::patch_clients(path, data, TAG, &managed, is_managed)
    else {
        return;
    };
    let again = coreconfig::parse(&bytes).expect("a patched file parses");
    let after = ManagedInbound::read(&again.root, TAG).expect("its inbound reads");
    assert_eq!(after.clients.len(), 1 + kept.len());
    assert_eq!(after.clients[0].email, "key-1@veil");
    assert_eq!(after.port, before.port);
});
