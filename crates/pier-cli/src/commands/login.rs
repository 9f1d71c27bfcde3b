//! `pier login` checks a key against a server and stores both as a profile; `pier logout`
//! forgets a profile. The key is never printed back.

use crate::client::{Client, Query, DEFAULT_SERVER};
use crate::config::{self, check_profile_name, ConfigFile, Profile, DEFAULT_PROFILE};
use clap::Args;

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Pier server URL
    #[arg(long, env = "PIER_SERVER", default_value = DEFAULT_SERVER, value_name = "URL")]
    server: String,
    /// API key of the project (printed by pier serve at first start, or by pier projects create)
    #[arg(long, env = "PIER_API_KEY", hide_env_values = true, value_name = "KEY")]
    api_key: String,
    /// Name to store the profile under
    #[arg(long, env = "PIER_PROFILE", default_value = DEFAULT_PROFILE, value_name = "NAME")]
    profile: String,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Profile to forget
    #[arg(long, env = "PIER_PROFILE", default_value = DEFAULT_PROFILE, value_name = "NAME")]
    profile: String,
    /// Forget every profile
    #[arg(long)]
    all: bool,
}

pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    check_profile_name(&args.profile)?;
    let client = Client::new(&args.server, &args.api_key)?;
    let query: Query = vec![("limit", "1".to_string())];
    client.get("/sources", &query).await?;
    let path = config::path()?;
    let mut file = ConfigFile::load(&path)?;
    file.profiles
        .insert(args.profile.clone(), Profile { server: client.server().to_string(), api_key: args.api_key.clone() });
    file.save(&path)?;
    let flag =
        if args.profile == DEFAULT_PROFILE { String::new() } else { format!(" (use --profile {})", args.profile) };
    eprintln!("logged in to {}: the key works", client.server());
    eprintln!("saved profile '{}' in {}{flag}", args.profile, path.display());
    Ok(())
}

pub fn logout(args: LogoutArgs) -> anyhow::Result<()> {
    let path = config::path()?;
    let mut file = ConfigFile::load(&path)?;
    if args.all {
        let n = file.profiles.len();
        file.profiles.clear();
        file.save(&path)?;
        eprintln!("removed {n} profile(s) from {}", path.display());
        return Ok(());
    }
    if file.profiles.remove(&args.profile).is_none() {
        eprintln!("no profile '{}' in {}; nothing to do", args.profile, path.display());
        return Ok(());
    }
    file.save(&path)?;
    eprintln!("removed profile '{}' from {}", args.profile, path.display());
    Ok(())
}
