//! A short-lived cache of the configuration a delivery reads (project, connection, source), so
//! a burst of events does not re-read the same rows; entries live one second, so changes made
//! through the API apply within a second.

use parking_lot::Mutex;
use pier_core::{Connection, Project, Source};
use pier_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(1);

struct Map<T> {
    entries: Mutex<HashMap<String, (Instant, Arc<T>)>>,
}

impl<T> Map<T> {
    fn new() -> Map<T> {
        Map { entries: Mutex::new(HashMap::new()) }
    }
    fn get(&self, key: &str) -> Option<Arc<T>> {
        let e = self.entries.lock();
        e.get(key).filter(|(at, _)| at.elapsed() < TTL).map(|(_, v)| v.clone())
    }
    fn put(&self, key: String, v: Arc<T>) {
        let mut e = self.entries.lock();
        if e.len() > 10_000 {
            e.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        e.insert(key, (Instant::now(), v));
    }
}

pub(crate) struct ConfigCache {
    projects: Map<Project>,
    connections: Map<Connection>,
    sources: Map<Source>,
}

impl ConfigCache {
    pub(crate) fn new() -> ConfigCache {
        ConfigCache { projects: Map::new(), connections: Map::new(), sources: Map::new() }
    }

    pub(crate) async fn project(&self, store: &dyn Store, id: &str) -> Result<Option<Arc<Project>>, StoreError> {
        if let Some(p) = self.projects.get(id) {
            return Ok(Some(p));
        }
        let p = store.project(id).await?.map(Arc::new);
        if let Some(p) = &p {
            self.projects.put(id.to_string(), p.clone());
        }
        Ok(p)
    }

    pub(crate) async fn connection(
        &self,
        store: &dyn Store,
        project_id: &str,
        id: &str,
    ) -> Result<Option<Arc<Connection>>, StoreError> {
        if let Some(c) = self.connections.get(id) {
            return Ok(Some(c));
        }
        let c = store.connection(project_id, id).await?.map(Arc::new);
        if let Some(c) = &c {
            self.connections.put(id.to_string(), c.clone());
        }
        Ok(c)
    }

    pub(crate) async fn source(
        &self,
        store: &dyn Store,
        project_id: &str,
        id: &str,
    ) -> Result<Option<Arc<Source>>, StoreError> {
        if let Some(s) = self.sources.get(id) {
            return Ok(Some(s));
        }
        let s = store.source(project_id, id).await?.map(Arc::new);
        if let Some(s) = &s {
            self.sources.put(id.to_string(), s.clone());
        }
        Ok(s)
    }
}
