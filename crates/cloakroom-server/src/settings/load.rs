//! Reading the layers: defaults, file, environment, flags.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};

use super::{ENV_PREFIX, Overrides, Settings};
use crate::error::Error;

impl Settings {
    /// Reads the settings from every layer and checks them.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> Result<Self, Error> {
        Self::from_figment(&Self::figment(config_file, overrides)?)
    }

    /// The layers, lowest first, without extracting them.
    pub fn figment(config_file: Option<&Path>, overrides: &Overrides) -> Result<Figment, Error> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = config_file {
            // `Toml::file` silently skips a missing file; a file named on the command line
            // must exist.
            if !path.is_file() {
                return Err(Error::ConfigFileMissing(path.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // The key-encryption key itself is read from the environment by the key custody code
        // (crate::custody), never into the settings, which are printed and logged.
        let env = Env::prefixed(ENV_PREFIX)
            .ignore(&[crate::custody::KEK_ENV_KEY])
            .split("__");
        Ok(figment.merge(env).merge(Serialized::defaults(overrides)))
    }

    /// Extracts and checks settings from `figment`.
    pub fn from_figment(figment: &Figment) -> Result<Self, Error> {
        let mut settings: Self = figment.extract().map_err(|e| Error::Config {
            message: describe(&e),
            figment: Box::new(e),
        })?;
        // Unset, the public URL is where the server listens: a token's `iss` then names the
        // server that issued it, not a port nobody configured.
        let from_defaults = figment
            .find_metadata("public_url")
            .is_none_or(|md| md.name == std::any::type_name::<Self>());
        if from_defaults {
            settings.public_url = format!("http://{}", settings.listen);
        }
        settings.validate()?;
        Ok(settings)
    }
}

/// Renders figment's errors one per key, as `key (origin): problem`, naming the environment
/// variable when the value came from one.
fn describe(e: &figment::Error) -> String {
    e.clone()
        .into_iter()
        .map(|e| {
            // Figment's path already ends with an unknown field's name: it is named once.
            let path = e.path.clone();
            let key = path.join(".");
            let origin = match &e.metadata {
                Some(md) if md.name.contains("environment") => {
                    let var = path.join("__").to_ascii_uppercase();
                    format!(" (from {ENV_PREFIX}{var})")
                }
                Some(md) => match &md.source {
                    Some(source) => format!(" (in {source})"),
                    None => String::new(),
                },
                None => String::new(),
            };
            if key.is_empty() {
                format!("{}{origin}", e.kind)
            } else {
                format!("`{key}`{origin}: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
