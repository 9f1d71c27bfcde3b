//! First start: make sure a default project exists, with the configured (or a new) API key and
//! signing secret.

use crate::clock::now_ms;
use crate::config::Config;
use pier_core::keys::{hash_api_key, new_api_key, new_signing_secret};
use pier_core::{IdKind, Project};
use pier_store::Store;

/// What start-up did about the default project.
pub struct Bootstrap {
    pub project: Project,
    /// A key generated now, to show once (None when a key was configured or existed).
    pub new_api_key: Option<String>,
}

pub async fn ensure_default_project(store: &dyn Store, config: &Config) -> anyhow::Result<Bootstrap> {
    let projects = store.list_projects().await?;
    let now = now_ms();
    match projects.into_iter().next() {
        None => {
            let mut rng = rand::rng();
            let generated = config.api_key.is_none().then(|| new_api_key(&mut rng));
            let key = config.api_key.clone().or(generated.clone()).unwrap_or_default();
            let project = Project::new(
                crate::clock::new_id(IdKind::Project, now),
                "default".into(),
                config.signing_secret.clone().unwrap_or_else(|| new_signing_secret(&mut rng)),
                now,
            );

            store.create_project(&project, &hash_api_key(&key)).await?;
            Ok(Bootstrap { project, new_api_key: generated })
        }
        Some(mut project) => {
            if let Some(key) = &config.api_key {
                match store.project_by_key_hash(&hash_api_key(key)).await? {
                    Some(_) => {}
                    None => store.add_api_key(&project.id, &hash_api_key(key), now).await?,
                }
            }
            if let Some(secret) = &config.signing_secret {
                if secret != &project.signing_secret {
                    store.set_signing_secret(&project.id, secret).await?;
                    project.signing_secret = secret.clone();
                }
            }
            Ok(Bootstrap { project, new_api_key: None })
        }
    }
}
