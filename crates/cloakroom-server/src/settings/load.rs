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
        Ok(figment
            .merge(Env::prefixed(ENV_PREFIX).split("__"))
            .merge(Serialized::defaults(overrides)))
    }

    /// Extracts and checks settings from `figment`.
    pub fn from_figment(figment: &Figment) -> Result<Self, Error> {
        let settings: Self = figment.extract().map_err(|e| Error::Config {
            message: describe(&e),
            figment: Box::new(e),
        })?;
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
            let mut path = e.path.clone();
            if let figment::error::Kind::UnknownField(field, _) = &e.kind {
                path.push(field.clone());
            }
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
