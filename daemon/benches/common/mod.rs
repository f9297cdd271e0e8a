//! What the HTTP and subscription benches share: veild's service in process on a REALITY
//! config, with the fake Xray core answering the API.

use crate::core_harness::FakeXrayCore;
use crate::daemon::{CoreSection, Daemon, DaemonConfig};
use serde_json::json;

fn reality(api: &str) -> serde_json::Value {
    json!({
        "api": {"tag": "api", "listen": api, "services": ["HandlerService", "StatsService"]},
        "stats": {},
        "policy": {"levels": {"0": {"statsUserUplink": true, "statsUserDownlink": true}}},
        "inbounds": [{
            "tag": "vless-in", "listen": "0.0.0.0", "port": 8443, "protocol": "vless",
            "settings": {"clients": [], "decryption": "none", "flow": "xtls-rprx-vision"},
            "streamSettings": {"network": "raw", "security": "reality", "realitySettings": {
                "target": "www.example.com:443", "serverNames": ["www.example.com"],
                "privateKey": "sA2yGdRHTLJZ5I04MWQusVHurkBlxJEdvRxo-7bVmXI",
                "shortIds": ["0123456789abcdef"]
            }}
        }],
        "outbounds": [{"tag": "direct", "protocol": "freedom"}]
    })
}

/// The fake core and veild's service running on it, with files under `dir`.
pub async fn start(dir: &std::path::Path) -> (FakeXrayCore, veild::daemon::Running) {
    let fake = FakeXrayCore::start().await;
    let core = dir.join("xray.json");
    std::fs::write(&core, reality(&fake.api_addr()).to_string()).unwrap();
    let cfg = DaemonConfig {
        core: Some(CoreSection::xray(&fake.api_addr(), &core)),
        ..DaemonConfig::default()
    };
    let config = veild::config::Config::load(&Daemon::write_config(dir, &cfg)).unwrap();
    let running = veild::daemon::Running::start(config).await.unwrap();
    (fake, running)
}
