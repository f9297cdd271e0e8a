//! Share links: for every valid name, the `vless://` link a standard URL parser reads back
//! gives the name (the fragment), the UUID (the user) and the port, whatever the name holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_shared::link::vless_link;
use veil_shared::reality::{Endpoint, RealityClient, Security};
use veil_shared::validate;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(name) = validate::name(raw) else {
        return;
    };
    let uuid = uuid::Uuid::from_u128(0x6f1c1f4e_8a5e_4d43_9a57_1b0a4b3c2d07);
    let endpoint = Endpoint {
        port: 443,
        network: "tcp".into(),
        flow: "xtls-rprx-vision".into(),
        security: Security::Reality(RealityClient {
            server_name: "www.example.com".into(),
            public_key: "efDFnWUKOkIqOhu4nlcP9-Gx_jIutsZCFYgI8q9ebwo".into(),
            short_id: "0123456789abcdef".into(),
            fingerprint: "chrome".into(),
            spider_x: "/".into(),
        }),
    };
    let link = vless_link(&uuid, "vpn.example.com", &endpoint, &name);
    let url = url::Url::parse(&link).expect("a link is a URL");
    assert_eq!(url.scheme(), "vless");
    assert_eq!(url.username(), uuid.to_string());
    assert_eq!(url.port(), Some(443));
    let fragment = url.fragment().expect("the name is the fragment");
    let decoded = percent_encoding::percent_decode_str(fragment)
        .decode_utf8()
        .expect("the fragment decodes to UTF-8");
    assert_eq!(decoded, name);
});
