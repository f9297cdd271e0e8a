//! Share links, REALITY keys and QR codes, checked against outside references: links are
//! parsed back with the `url` crate (a WHATWG URL parser), keys against RFC 7748's test
//! vectors and a keypair made by OpenSSL, QR codes by decoding the rendered text with `rqrr`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use serde_json::json;
use url::{Host, Url};
use uuid::Uuid;
use veil_shared::clientconfig::{LocalPorts, client_config};
use veil_shared::coreconfig::{self, Flavor, ManagedInbound};
use veil_shared::link::{encode_component, vless_link};
use veil_shared::qr::{self, Colors};
use veil_shared::reality::{self, Endpoint, RealityClient, Security, VISION};
use veil_shared::validate;

const UUID: &str = "6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e";

fn uuid() -> Uuid {
    Uuid::parse_str(UUID).unwrap()
}

fn hex(s: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

fn reality_endpoint(spider_x: &str) -> Endpoint {
    Endpoint {
        port: 443,
        network: "tcp".into(),
        flow: VISION.into(),
        security: Security::Reality(RealityClient {
            server_name: "www.example.com".into(),
            public_key: "efDFnWUKOkIqOhu4nlcP9-Gx_jIutsZCFYgI8q9ebwo".into(),
            short_id: "0123456789abcdef".into(),
            fingerprint: "chrome".into(),
            spider_x: spider_x.into(),
        }),
    }
}

/// Names that break naive encoders, each a valid key name.
const HARD_NAMES: &[&str] = &[
    "two words",
    "a+b",
    "a=b",
    "a&b",
    "a#b",
    "100%",
    "%41 is not A",
    "Маша",
    "東京 office",
    "🦊 fox",
    "👨‍👩‍👧 family",
    "O'Brien (home)!*~",
    "all: a b+c=d&e#f%g/h?i;j,k@l Ж 🦊",
];

/// What a link says, read back by a standard URL parser.
struct Parsed {
    uuid: String,
    host: Host<String>,
    port: Option<u16>,
    query: HashMap<String, String>,
    /// The fragment as written and percent-decoded.
    name: String,
    raw_fragment: String,
}

fn parse(link: &str) -> Parsed {
    let url = Url::parse(link).unwrap_or_else(|e| panic!("{link}: {e}"));
    assert_eq!(url.scheme(), "vless");
    let mut query = HashMap::new();
    for (k, v) in url.query_pairs() {
        assert!(
            query.insert(k.to_string(), v.to_string()).is_none(),
            "repeated key {k} in {link}"
        );
    }
    let raw_fragment = url.fragment().unwrap_or_default().to_owned();
    let name = percent_decode_str(&raw_fragment)
        .decode_utf8()
        .unwrap()
        .into_owned();
    Parsed {
        uuid: url.username().to_owned(),
        host: url.host().unwrap().to_owned(),
        port: url.port(),
        query,
        name,
        raw_fragment,
    }
}

#[test]
fn golden_reality_link() {
    let link = vless_link(
        &uuid(),
        "vpn.example.com",
        &reality_endpoint("/"),
        "Маша 🦊 a+b=c&d",
    );
    assert_eq!(
        link,
        "vless://6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e@vpn.example.com:443?encryption=none\
         &flow=xtls-rprx-vision&security=reality&sni=www.example.com&fp=chrome\
         &pbk=efDFnWUKOkIqOhu4nlcP9-Gx_jIutsZCFYgI8q9ebwo&sid=0123456789abcdef&spx=%2F\
         &type=tcp&headerType=none\
         #%D0%9C%D0%B0%D1%88%D0%B0%20%F0%9F%A6%8A%20a%2Bb%3Dc%26d"
    );
}

#[test]
fn golden_fragments_of_hard_names() {
    let cases = [
        ("two words", "two%20words"),
        ("a+b", "a%2Bb"),
        ("a=b", "a%3Db"),
        ("a&b", "a%26b"),
        ("a#b", "a%23b"),
        ("100%", "100%25"),
        ("Маша", "%D0%9C%D0%B0%D1%88%D0%B0"),
        ("🦊 fox", "%F0%9F%A6%8A%20fox"),
        ("O'Brien (home)!*~", "O'Brien%20(home)!*~"),
    ];
    for (name, fragment) in cases {
        assert_eq!(encode_component(name), fragment, "{name}");
        let link = vless_link(&uuid(), "h.example", &reality_endpoint("/"), name);
        assert!(link.ends_with(&format!("#{fragment}")), "{link}");
    }
}

#[test]
fn every_hard_name_reads_back_exactly() {
    let endpoint = reality_endpoint("/");
    for &name in HARD_NAMES {
        // Every one is a name Veil accepts, unchanged.
        assert_eq!(validate::name(name).as_deref(), Ok(name));
        let link = vless_link(&uuid(), "vpn.example.com", &endpoint, name);
        let fragment = link.split_once('#').unwrap().1;
        for c in [' ', '+', '=', '&', '#', '?'] {
            assert!(!fragment.contains(c), "{c:?} unescaped in {link}");
        }
        assert!(fragment.is_ascii(), "{link}");
        let p = parse(&link);
        assert_eq!(p.name, name, "{link}");
        assert_eq!(p.raw_fragment, encode_component(name));
        assert_eq!(p.uuid, UUID);
        assert_eq!(p.host, Host::Domain("vpn.example.com".to_owned()));
        assert_eq!(p.port, Some(443));
        let want: HashMap<String, String> = [
            ("encryption", "none"),
            ("flow", VISION),
            ("security", "reality"),
            ("sni", "www.example.com"),
            ("fp", "chrome"),
            ("pbk", "efDFnWUKOkIqOhu4nlcP9-Gx_jIutsZCFYgI8q9ebwo"),
            ("sid", "0123456789abcdef"),
            ("spx", "/"),
            ("type", "tcp"),
            ("headerType", "none"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(p.query, want, "{link}");
    }
}

#[test]
fn query_values_with_reserved_characters_read_back_exactly() {
    // A spiderX with every character the parsers disagree on.
    let spider = "/p a+b=c&d#e%f?g";
    let link = vless_link(&uuid(), "h.example", &reality_endpoint(spider), "n");
    assert!(
        link.contains("spx=%2Fp%20a%2Bb%3Dc%26d%23e%25f%3Fg&"),
        "{link}"
    );
    let p = parse(&link);
    assert_eq!(p.query["spx"], spider);
    assert_eq!(p.name, "n");
}

#[test]
fn plain_links_for_trials_and_ipv6_hosts() {
    let endpoint = Endpoint {
        port: 8443,
        network: "tcp".into(),
        flow: String::new(),
        security: Security::None,
    };
    let link = vless_link(&uuid(), "2001:db8::1", &endpoint, "trial key");
    assert_eq!(
        link,
        "vless://6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e@[2001:db8::1]:8443?encryption=none\
         &security=none&type=tcp&headerType=none#trial%20key"
    );
    let p = parse(&link);
    assert_eq!(
        p.host,
        Host::<String>::Ipv6("2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap())
    );
    assert_eq!(p.port, Some(8443));
    assert_eq!(p.query.get("security").map(String::as_str), Some("none"));
    assert!(!p.query.contains_key("flow") && !p.query.contains_key("pbk"));
    assert_eq!(p.name, "trial key");

    // A WHATWG parser keeps the host of a non-special scheme opaque (IPv6 aside).
    let p = parse(&vless_link(&uuid(), "203.0.113.9", &endpoint, "x"));
    assert_eq!(p.host, Host::Domain("203.0.113.9".to_owned()));
}

// ---------------------------------------------------------------------------------------
// X25519

/// RFC 7748 §6.1: Alice's and Bob's private keys, their public keys X25519(k, 9), and the
/// shared secret both compute.
#[test]
fn rfc7748_section_6_1_vectors() {
    let alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let alice_pub = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    let bob = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let bob_pub = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let shared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

    assert_eq!(reality::public_from_private(&alice), alice_pub);
    assert_eq!(reality::public_from_private(&bob), bob_pub);
    assert_eq!(x25519_dalek::x25519(alice, bob_pub), shared);
    assert_eq!(x25519_dalek::x25519(bob, alice_pub), shared);

    // The same through the text form the config holds.
    let alice_text = reality::encode_key(&alice);
    assert_eq!(alice_text.len(), reality::KEY_CHARS);
    assert_eq!(
        reality::public_key_of(&alice_text).unwrap(),
        reality::encode_key(&alice_pub)
    );
}

/// A keypair made by OpenSSL (`openssl genpkey -algorithm X25519`, raw halves written as
/// base64url without padding), and an unclamped private key whose public half was computed
/// by Python's `cryptography` (X25519 clamps, as Xray does when it derives).
#[test]
fn keypairs_made_elsewhere() {
    assert_eq!(
        reality::public_key_of("sA2yGdRHTLJZ5I04MWQusVHurkBlxJEdvRxo-7bVmXI").unwrap(),
        "efDFnWUKOkIqOhu4nlcP9-Gx_jIutsZCFYgI8q9ebwo"
    );
    assert_eq!(
        reality::public_key_of("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA").unwrap(),
        "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9_AsrhtHHw"
    );
    // Clamping does not change the public key.
    let raw: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
    assert_eq!(
        reality::public_from_private(&raw),
        reality::public_from_private(&reality::clamp(raw))
    );
    // Standard base64 (`+`, `/`, padding) is not what Xray reads.
    assert!(reality::public_key_of("sA2yGdRHTLJZ5I04MWQusVHurkBlxJEdvRxo+7bVmXI=").is_err());
}

#[test]
fn endpoint_and_client_config_from_a_server_config() {
    let server = json!({
        "tag": "vless-in", "port": 443, "protocol": "vless",
        "settings": {"clients": [], "decryption": "none", "flow": VISION},
        "streamSettings": {"network": "raw", "security": "reality", "realitySettings": {
            "target": "www.example.com:443", "serverNames": ["www.example.com"],
            "privateKey": "sA2yGdRHTLJZ5I04MWQusVHurkBlxJEdvRxo-7bVmXI",
            "shortIds": ["", "0123456789abcdef"], "minClientVer": "1.8.0"
        }}
    });
    let endpoint = Endpoint::read(Some(443), server.get("streamSettings"), VISION).unwrap();
    assert_eq!(endpoint, reality_endpoint("/"));
    // The same endpoint through the one model of the core's config, as veild builds it
    // (comments in the file are allowed, as the cores allow them).
    let text = format!("// written by hand\n{{\"inbounds\": [{server}]}}");
    let root = coreconfig::parse(text.as_bytes()).unwrap().root;
    let inbound = ManagedInbound::read(&root, "vless-in").unwrap();
    assert_eq!(
        Endpoint::of_inbound(&inbound, Flavor::Xray).unwrap(),
        endpoint
    );
    let config = client_config(&uuid(), "vpn.example.com", &endpoint, LocalPorts::default());
    let r = &config["outbounds"][0]["streamSettings"]["realitySettings"];
    assert_eq!(
        r["publicKey"],
        "efDFnWUKOkIqOhu4nlcP9-Gx_jIutsZCFYgI8q9ebwo"
    );
    assert_eq!(r["shortId"], "0123456789abcdef");
    assert_eq!(r["serverName"], "www.example.com");
    assert_eq!(
        config["outbounds"][0]["settings"]["vnext"][0]["users"][0]["flow"],
        VISION
    );
}

// ---------------------------------------------------------------------------------------
// QR codes

/// Reads the half-block text back into modules and decodes it like a camera would.
fn decode_qr(text: &str, colors: Colors) -> String {
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let width = lines.iter().map(Vec::len).max().unwrap();
    let height = lines.len() * 2;
    let drawn = |x: usize, y: usize| -> bool {
        let c = lines[y / 2].get(x).copied().unwrap_or(' ');
        if y.is_multiple_of(2) {
            matches!(c, '▀' | '█')
        } else {
            matches!(c, '▄' | '█')
        }
    };
    // Drawn cells are the terminal's foreground: light on a dark terminal.
    let dark = |x: usize, y: usize| match colors {
        Colors::DarkTerminal => !drawn(x, y),
        Colors::Inverted => drawn(x, y),
    };
    const SCALE: usize = 4;
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(width * SCALE, height * SCALE, |x, y| {
            if dark(x / SCALE, y / SCALE) { 0 } else { 255 }
        });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one code expected");
    grids[0].decode().unwrap().1
}

#[test]
fn qr_codes_decode_to_the_link_and_fit_80_columns() {
    let endpoint = reality_endpoint("/");
    for name in ["alice", "all: a b+c=d&e#f%g/h?i;j,k@l Ж 🦊"] {
        let link = vless_link(&uuid(), "vpn.example.com", &endpoint, name);
        for colors in [Colors::DarkTerminal, Colors::Inverted] {
            let code = qr::render(&link, colors).unwrap();
            assert!(code.fits(), "{} columns for {link}", code.columns);
            assert!(code.text.lines().all(|l| l.chars().count() == code.columns));
            assert_eq!(decode_qr(&code.text, colors), link);
        }
    }
}
