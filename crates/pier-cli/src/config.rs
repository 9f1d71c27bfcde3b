//! Login profiles: `{config dir}/pier/config.toml` (or `$PIER_CONFIG_DIR/config.toml`), one
//! `[profiles.NAME]` table per server and key. The file holds API keys, so it is written with
//! mode 0600 in a directory of mode 0700.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_PROFILE: &str = "default";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub server: String,
    pub api_key: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The directory holding `config.toml`.
pub fn dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("PIER_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    dirs::config_dir().map(|d| d.join("pier")).context("cannot find the user's config directory; set PIER_CONFIG_DIR")
}

pub fn path() -> anyhow::Result<PathBuf> {
    Ok(dir()?.join("config.toml"))
}

impl ConfigFile {
    /// Read the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("cannot parse {}; fix or delete it, then run pier login", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Write the file atomically (a private temporary file renamed over it).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path.parent().context("the config path has no directory")?;
        create_private_dir(dir)?;
        let text = format!(
            "# Pier CLI profiles, written by `pier login`. Keep this file private: it holds API keys.\n\n{}",
            toml::to_string(self).context("cannot serialise the configuration")?
        );
        let tmp = dir.join(".config.toml.tmp");
        write_private(&tmp, text.as_bytes()).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Check a profile name before it becomes a TOML key and a flag value users retype.
pub fn check_profile_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        bail!("invalid profile name '{name}': use letters, digits, '-' and '_'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_private_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("nested").join("config.toml");
        assert_eq!(ConfigFile::load(&path).unwrap(), ConfigFile::default());
        let mut c = ConfigFile::default();
        c.profiles.insert("default".into(), Profile { server: "http://h:1".into(), api_key: "k".into() });
        c.save(&path).unwrap();
        c.save(&path).unwrap();
        assert_eq!(ConfigFile::load(&path).unwrap(), c);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        assert!(check_profile_name("work-2").is_ok());
        assert!(check_profile_name("a b").is_err() && check_profile_name("").is_err());
    }
}
