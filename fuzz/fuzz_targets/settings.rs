//! Any bytes as the TOML settings file: loading and checking them never panics, and settings
//! that load survive a round trip through their own serialization.
#![no_main]

use cloakroom_server::settings::Settings;
use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let figment =
        Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(text));
    let Ok(settings) = Settings::from_figment(&figment) else {
        return;
    };
    // What start-up derives from valid settings must not fail or panic either.
    settings
        .session_policy()
        .expect("valid settings give a session policy");
    settings
        .public_url_is_https()
        .expect("valid settings have a public URL");
    let _ = settings.database();
    let again = Settings::from_figment(&Figment::from(Serialized::defaults(&settings)))
        .expect("settings that loaded load again");
    assert_eq!(again, settings, "the round trip changed the settings");
});
