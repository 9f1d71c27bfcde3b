//! `pier projects create NAME | list | rotate-key ID`: administration on the store itself
//! (works while a server runs on the same database). New keys are printed once.

use crate::Output;
use anyhow::Context;
use clap::{Args, Subcommand};
use pier_core::keys::{hash_api_key, new_api_key, new_signing_secret};
use pier_core::{IdKind, Project};
use pier_server::config::{Config, FileConfig, Overrides};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ProjectsArgs {
    #[command(subcommand)]
    command: ProjectsCommand,
    /// Directory of the embedded SQLite database [default: ./pier-data]
    #[arg(long, env = "PIER_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Database to use instead of the embedded one: sqlite://PATH
    #[arg(long, env = "PIER_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Output format
    #[arg(long, short = 'o', value_enum, default_value = "human", global = true)]
    output: Output,
}

#[derive(Subcommand, Debug)]
enum ProjectsCommand {
    /// Create a project with a new API key and signing secret
    Create { name: String },
    /// List projects
    List,
    /// Replace every API key of a project with a new one
    RotateKey { id: String },
    /// Give a project a new delivery signing secret; the old one is still sent as
    /// x-hookdeck-signature-2 for a grace period so receivers can switch over
    RotateSigningSecret {
        id: String,
        /// Hours the previous secret keeps signing (x-hookdeck-signature-2)
        #[arg(long, default_value_t = 24)]
        keep_previous_hours: u32,
    },
}

fn now_ms() -> i64 {
    pier_server::clock::now_ms()
}

pub async fn run(args: ProjectsArgs) -> anyhow::Result<()> {
    let config = Config::resolve(
        FileConfig::default(),
        Overrides { data_dir: args.data_dir.clone(), database_url: args.database_url.clone(), ..Default::default() },
    )?;
    let store = pier_server::open_store(&config).await?;
    match args.command {
        ProjectsCommand::Create { name } => {
            check_name(&name)?;
            let mut rng = rand::rng();
            let key = new_api_key(&mut rng);
            let project = Project::new(
                pier_server::clock::new_id(IdKind::Project, now_ms()),
                name,
                new_signing_secret(&mut rng),
                now_ms(),
            );

            store.create_project(&project, &hash_api_key(&key)).await.map_err(|e| match e {
                pier_store::StoreError::Conflict(_) => {
                    anyhow::anyhow!("a project named '{}' already exists; pick another name", project.name)
                }
                other => anyhow::Error::new(other).context("cannot create the project"),
            })?;
            print_key(args.output, &project, &key, "created project");
        }
        ProjectsCommand::List => {
            let projects = store.list_projects().await.context("cannot list projects")?;
            match args.output {
                Output::Json => {
                    let v: Vec<_> = projects
                        .iter()
                        .map(|p| serde_json::json!({"id": p.id, "name": p.name, "created_at": pier_api_types::time::format(p.created_at)}))
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                Output::Human => {
                    eprintln!("{:<26} {:<24} CREATED", "ID", "NAME");
                    for p in &projects {
                        eprintln!("{:<26} {:<24} {}", p.id, p.name, pier_api_types::time::format(p.created_at));
                    }
                }
            }
        }
        ProjectsCommand::RotateSigningSecret { id, keep_previous_hours } => {
            let project = store
                .project(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no project with id '{id}'; see `pier projects list`"))?;
            let secret = new_signing_secret(&mut rand::rng());
            let until = now_ms() + keep_previous_hours as i64 * 3_600_000;
            store
                .rotate_signing_secret(&project.id, &secret, until)
                .await
                .context("cannot rotate the signing secret")?;
            match args.output {
                Output::Json => println!("{}", serde_json::json!({"id": project.id, "signing_secret": secret})),
                Output::Human => {
                    eprintln!(
                        "new signing secret for {} ({}); the previous one signs x-hookdeck-signature-2 for {keep_previous_hours}h:",
                        project.name, project.id
                    );
                    println!("{secret}");
                }
            }
        }
        ProjectsCommand::RotateKey { id } => {
            let project = store
                .project(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no project with id '{id}'; see `pier projects list`"))?;
            let key = new_api_key(&mut rand::rng());
            store
                .replace_api_keys(&project.id, &hash_api_key(&key), now_ms())
                .await
                .context("cannot rotate the key")?;
            print_key(args.output, &project, &key, "new API key for project (the old keys no longer work)");
        }
    }
    Ok(())
}

fn check_name(name: &str) -> anyhow::Result<()> {
    pier_api_types::input::check_name("name", name).map_err(|e| anyhow::anyhow!("invalid project name: {}", e.message))
}

fn print_key(output: Output, p: &Project, key: &str, what: &str) {
    match output {
        Output::Json => println!("{}", serde_json::json!({"id": p.id, "name": p.name, "api_key": key})),
        Output::Human => {
            eprintln!("{what} {} ({})", p.name, p.id);
            eprintln!("API key (shown once, keep it safe):");
            println!("{key}");
        }
    }
}
