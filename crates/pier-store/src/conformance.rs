//! The storage conformance story: one test body that every backend runs on a fresh, empty
//! store (`run(store).await`). It panics with a message on the first broken promise.

use crate::{Change, Cmp, Col, Cond, ListQuery, Routing, Store, StoreError, Table, Val};
use pier_core::{
    keys, AuthMethod, Connection, Destination, Event, EventStatus, IdKind, IgnoredCause,
    IgnoredEvent, Project, RateLimitPeriod, RejectionCause, Request, Source,
};
use rand::{rngs::StdRng, SeedableRng};
use std::sync::Arc;

struct Ids {
    rng: StdRng,
    now: i64,
}

impl Ids {
    fn next(&mut self, kind: IdKind) -> String {
        self.now += 1;
        pier_core::Id::make(kind, self.now, &mut self.rng)
    }
}

fn source(ids: &mut Ids, project: &str, name: &str) -> Source {
    let now = ids.now;
    Source {
        id: ids.next(IdKind::Source),
        project_id: project.into(),
        name: name.into(),
        key: pier_core::id::random_token(16, &mut ids.rng),
        description: None,
        allowed_http_methods: vec!["POST".into()],
        custom_response: None,
        verification: None,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn destination(ids: &mut Ids, project: &str, name: &str, cli: bool) -> Destination {
    let now = ids.now;
    Destination {
        id: ids.next(IdKind::Destination),
        project_id: project.into(),
        name: name.into(),
        description: Some("d".into()),
        url: (!cli).then(|| "http://127.0.0.1:9/x".to_string()),
        cli_path: cli.then(|| "/".to_string()),
        path_forwarding_disabled: false,
        http_method: None,
        rate_limit: Some(10),
        rate_limit_period: RateLimitPeriod::Minute,
        auth_method: AuthMethod::default(),
        disabled_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn connection(ids: &mut Ids, project: &str, name: &str, s: &Source, d: &Destination) -> Connection {
    let now = ids.now;
    Connection {
        id: ids.next(IdKind::Connection),
        project_id: project.into(),
        name: name.into(),
        description: None,
        source_id: s.id.clone(),
        destination_id: d.id.clone(),
        rules: vec![],
        paused_at: None,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn request(ids: &mut Ids, s: &Source, body: &[u8]) -> Request {
    let now = ids.now;
    Request {
        id: ids.next(IdKind::Request),
        project_id: s.project_id.clone(),
        source_id: s.id.clone(),
        method: "POST".into(),
        path: "/track".into(),
        query: "a=1".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-bin".into(), "\\xff".into()),
        ],
        body: Some(bytes::Bytes::copy_from_slice(body)),
        body_size: body.len() as i64,
        original_ip: Some("127.0.0.1".into()),
        verified: true,
        rejection_cause: None,
        events_count: 0,
        ignored_count: 0,
        cli_events_count: 0,
        routed: false,
        ingested_at: now,
        created_at: now,
        updated_at: now,
    }
}

fn event_for(ids: &mut Ids, r: &Request, c: &Connection) -> Event {
    let now = ids.now;
    Event {
        id: ids.next(IdKind::Event),
        project_id: r.project_id.clone(),
        request_id: r.id.clone(),
        connection_id: c.id.clone(),
        source_id: c.source_id.clone(),
        destination_id: c.destination_id.clone(),
        status: EventStatus::Queued,
        attempts: 0,
        last_attempt_at: None,
        next_attempt_at: Some(now),
        response_status: None,
        error_code: None,
        successful_at: None,
        cli_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// Run the whole story on an empty store.
pub async fn run(store: Arc<dyn Store>) {
    let mut ids = Ids {
        rng: StdRng::seed_from_u64(7),
        now: 1_700_000_000_000,
    };
    store.ping().await.expect("ping");

    // ---- projects and keys ----
    let p1 = Project {
        id: ids.next(IdKind::Project),
        name: "one".into(),
        signing_secret: "s1".into(),
        created_at: ids.now,
    };
    let p2 = Project {
        id: ids.next(IdKind::Project),
        name: "two".into(),
        signing_secret: "s2".into(),
        created_at: ids.now,
    };
    store
        .create_project(&p1, &keys::hash_api_key("k1"))
        .await
        .expect("create p1");
    store
        .create_project(&p2, &keys::hash_api_key("k2"))
        .await
        .expect("create p2");
    let dup = Project {
        id: ids.next(IdKind::Project),
        ..p1.clone()
    };
    assert!(matches!(
        store.create_project(&dup, &keys::hash_api_key("k3")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list_projects().await.unwrap().len(), 2);
    assert_eq!(
        store
            .project_by_key_hash(&keys::hash_api_key("k1"))
            .await
            .unwrap(),
        Some(p1.clone())
    );
    assert_eq!(
        store
            .project_by_key_hash(&keys::hash_api_key("nope"))
            .await
            .unwrap(),
        None
    );
    store
        .replace_api_keys(&p1.id, &keys::hash_api_key("k1b"), ids.now)
        .await
        .expect("rotate");
    assert_eq!(
        store
            .project_by_key_hash(&keys::hash_api_key("k1"))
            .await
            .unwrap(),
        None,
        "old key must stop working"
    );
    assert_eq!(
        store
            .project_by_key_hash(&keys::hash_api_key("k1b"))
            .await
            .unwrap()
            .map(|p| p.id),
        Some(p1.id.clone())
    );
    assert!(matches!(
        store.replace_api_keys("tm_missing", "h", 0).await,
        Err(StoreError::NotFound)
    ));
    store
        .add_api_key(&p2.id, &keys::hash_api_key("k2b"), ids.now)
        .await
        .expect("add key");
    assert_eq!(
        store
            .project_by_key_hash(&keys::hash_api_key("k2"))
            .await
            .unwrap()
            .map(|p| p.id),
        Some(p2.id.clone())
    );
    assert_eq!(
        store
            .project_by_key_hash(&keys::hash_api_key("k2b"))
            .await
            .unwrap()
            .map(|p| p.id),
        Some(p2.id.clone())
    );
    assert!(matches!(
        store
            .add_api_key(&p1.id, &keys::hash_api_key("k2b"), 0)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.add_api_key("tm_missing", "h2", 0).await,
        Err(StoreError::NotFound)
    ));
    store.set_signing_secret(&p1.id, "s1b").await.unwrap();
    assert_eq!(
        store.project(&p1.id).await.unwrap().unwrap().signing_secret,
        "s1b"
    );

    // ---- sources: put, get, unique names, isolation, update ----
    let mut s1 = source(&mut ids, &p1.id, "inbound");
    store
        .apply(&p1.id, vec![Change::PutSource(s1.clone())])
        .await
        .expect("put source");
    assert_eq!(
        store.source(&p1.id, &s1.id).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        store.source_by_name(&p1.id, "inbound").await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        store.source_by_key(&s1.key).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        store.source(&p2.id, &s1.id).await.unwrap(),
        None,
        "another project must not see it"
    );
    let clash = source(&mut ids, &p1.id, "inbound");
    assert!(matches!(
        store.apply(&p1.id, vec![Change::PutSource(clash)]).await,
        Err(StoreError::Conflict(_))
    ));
    let same_name_other_project = source(&mut ids, &p2.id, "inbound");
    store
        .apply(
            &p2.id,
            vec![Change::PutSource(same_name_other_project.clone())],
        )
        .await
        .expect("names are per project");
    assert!(
        store
            .apply(
                &p1.id,
                vec![Change::PutSource(same_name_other_project.clone())]
            )
            .await
            .is_err(),
        "a project cannot write another's object"
    );
    s1.description = Some("updated".into());
    s1.updated_at += 5;
    store
        .apply(&p1.id, vec![Change::PutSource(s1.clone())])
        .await
        .expect("update source");
    assert_eq!(
        store
            .source(&p1.id, &s1.id)
            .await
            .unwrap()
            .unwrap()
            .description
            .as_deref(),
        Some("updated")
    );

    // ---- destinations and connections ----
    let d1 = destination(&mut ids, &p1.id, "internal-api", false);
    let dcli = destination(&mut ids, &p1.id, "cli", true);
    let c1 = connection(&mut ids, &p1.id, "conn", &s1, &d1);
    let ccli = connection(&mut ids, &p1.id, "conn-cli", &s1, &dcli);
    store
        .apply(
            &p1.id,
            vec![
                Change::PutDestination(d1.clone()),
                Change::PutDestination(dcli.clone()),
                Change::PutConnection(c1.clone()),
                Change::PutConnection(ccli.clone()),
            ],
        )
        .await
        .expect("put bundle");
    assert_eq!(
        store.destination(&p1.id, &d1.id).await.unwrap(),
        Some(d1.clone())
    );
    assert_eq!(
        store
            .destination_by_name(&p1.id, "internal-api")
            .await
            .unwrap(),
        Some(d1.clone())
    );
    assert_eq!(
        store.connection(&p1.id, &c1.id).await.unwrap(),
        Some(c1.clone())
    );
    assert_eq!(
        store
            .connection_by_name(&p1.id, &s1.id, "conn")
            .await
            .unwrap(),
        Some(c1.clone())
    );
    assert_eq!(store.connection(&p2.id, &c1.id).await.unwrap(), None);
    assert_eq!(store.connections_of_source(&s1.id).await.unwrap().len(), 2);

    // A batch with a bad reference changes nothing.
    let d_rolled_back = destination(&mut ids, &p1.id, "rolled-back", false);
    let mut bad = connection(&mut ids, &p1.id, "bad", &s1, &d1);
    bad.source_id = same_name_other_project.id.clone();
    let r = store
        .apply(
            &p1.id,
            vec![
                Change::PutDestination(d_rolled_back.clone()),
                Change::PutConnection(bad),
            ],
        )
        .await;
    assert!(matches!(r, Err(StoreError::InvalidReference(_))), "{r:?}");
    assert_eq!(
        store.destination(&p1.id, &d_rolled_back.id).await.unwrap(),
        None,
        "apply must be atomic"
    );
    assert_eq!(
        store
            .count(
                &p1.id,
                Table::Connections,
                &[Cond::Eq(Col::SourceId, Val::Text(s1.id.clone()))]
            )
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .count(
                &p1.id,
                Table::Connections,
                &[Cond::IsNull(Col::PausedAt, false)]
            )
            .await
            .unwrap(),
        0
    );

    // ---- list and pagination ----
    let mut names = Vec::new();
    for i in 0..5 {
        let s = source(&mut ids, &p2.id, &format!("page-{i}"));
        names.push(s.id.clone());
        store
            .apply(&p2.id, vec![Change::PutSource(s)])
            .await
            .unwrap();
    }
    let q = ListQuery {
        limit: 2,
        conds: vec![Cond::Contains(Col::Name, "PAGE".into())],
        ..ListQuery::default()
    };
    let page1 = store.list_sources(&p2.id, &q).await.unwrap();
    assert_eq!(
        page1
            .models
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["page-4", "page-3"]
    );
    assert!(page1.prev.is_none());
    let page2 = store
        .list_sources(
            &p2.id,
            &ListQuery {
                cursor: page1.next.clone(),
                ..q.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page2
            .models
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["page-2", "page-1"]
    );
    let page3 = store
        .list_sources(
            &p2.id,
            &ListQuery {
                cursor: page2.next.clone(),
                ..q.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page3
            .models
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["page-0"]
    );
    assert!(page3.next.is_none());
    let back = store
        .list_sources(
            &p2.id,
            &ListQuery {
                cursor: page3.prev.clone(),
                ..q.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        back.models
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["page-2", "page-1"]
    );
    let asc = store
        .list_sources(
            &p2.id,
            &ListQuery {
                desc: false,
                ..q.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(asc.models[0].name, "page-0");
    assert!(store
        .list_sources(
            &p2.id,
            &ListQuery::default().with(Cond::Eq(Col::Status, Val::Int(1)))
        )
        .await
        .is_err());

    // ---- ingest (concurrent, group commit), routing, events ----
    let mut handles = Vec::new();
    let mut sent = Vec::new();
    for i in 0..200 {
        let body = format!("{{\"n\":{i},\"raw\":\"\u{e9}\"}}").into_bytes();
        let r = request(&mut ids, &s1, &body);
        sent.push(r.clone());
        let st = store.clone();
        handles.push(tokio::spawn(async move { st.ingest(r).await }));
    }
    for h in handles {
        h.await.expect("join").expect("ingest");
    }
    let got = store
        .request(&p1.id, &sent[17].id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        got, sent[17],
        "a request reads back exactly, body bytes included"
    );
    assert_eq!(store.request(&p2.id, &sent[17].id).await.unwrap(), None);
    let unrouted = store.unrouted_requests(1000).await.unwrap();
    assert_eq!(unrouted.len(), 200);

    let r0 = &sent[0];
    let e1 = event_for(&mut ids, r0, &c1);
    let e2 = event_for(&mut ids, r0, &ccli);
    let routing = Routing {
        request_id: r0.id.clone(),
        events: vec![e1.clone(), e2.clone()],
        ignored: vec![],
        rejection: None,
        now: ids.now,
    };
    store
        .complete_routing(routing.clone())
        .await
        .expect("route");
    // Replaying routing (a crash between the write and its acknowledgement) changes nothing.
    let mut replay = routing.clone();
    replay.events = vec![event_for(&mut ids, r0, &c1), event_for(&mut ids, r0, &ccli)];
    store.complete_routing(replay).await.expect("route again");
    let stored = store.request(&p1.id, &r0.id).await.unwrap().unwrap();
    assert!(stored.routed);
    assert_eq!(
        (
            stored.events_count,
            stored.cli_events_count,
            stored.ignored_count
        ),
        (1, 1, 0)
    );
    let evs = store
        .list_events(
            &p1.id,
            &ListQuery::default().with(Cond::Eq(Col::RequestId, Val::Text(r0.id.clone()))),
        )
        .await
        .unwrap();
    assert_eq!(evs.models.len(), 2);
    assert_eq!(store.event(&p1.id, &e1.id).await.unwrap(), Some(e1.clone()));
    assert_eq!(store.event(&p2.id, &e1.id).await.unwrap(), None);
    assert_eq!(store.unrouted_requests(1000).await.unwrap().len(), 199);

    let r1 = &sent[1];
    let ign = IgnoredEvent {
        id: ids.next(IdKind::IgnoredEvent),
        project_id: p1.id.clone(),
        request_id: r1.id.clone(),
        connection_id: c1.id.clone(),
        cause: IgnoredCause::Disabled,
        meta: None,
        created_at: ids.now,
        updated_at: ids.now,
    };
    store
        .complete_routing(Routing {
            request_id: r1.id.clone(),
            events: vec![],
            ignored: vec![ign.clone()],
            rejection: None,
            now: ids.now,
        })
        .await
        .unwrap();
    let ig = store
        .list_ignored_events(
            &p1.id,
            &ListQuery::default().with(Cond::Eq(Col::RequestId, Val::Text(r1.id.clone()))),
        )
        .await
        .unwrap();
    assert_eq!(ig.models, vec![ign]);
    let r2 = &sent[2];
    store
        .complete_routing(Routing {
            request_id: r2.id.clone(),
            rejection: Some(RejectionCause::NoConnection),
            now: ids.now,
            ..Routing::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .request(&p1.id, &r2.id)
            .await
            .unwrap()
            .unwrap()
            .rejection_cause,
        Some(RejectionCause::NoConnection)
    );

    // Lists of requests: without bodies by default, filters, counts.
    let page = store
        .list_requests(
            &p1.id,
            &ListQuery {
                limit: 10,
                ..ListQuery::default()
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(page.models.len(), 10);
    assert!(page.models.iter().all(|r| r.body.is_none()));
    assert_eq!(page.models[0].id, sent[199].id, "newest first");
    let with_bodies = store
        .list_requests(
            &p1.id,
            &ListQuery {
                limit: 1,
                ..ListQuery::default()
            },
            true,
        )
        .await
        .unwrap();
    assert_eq!(with_bodies.models[0].body, sent[199].body);
    let rejected = store
        .list_requests(
            &p1.id,
            &ListQuery::default().with(Cond::IsNull(Col::RejectionCause, false)),
            false,
        )
        .await
        .unwrap();
    assert_eq!(rejected.models.len(), 1);
    let since = store
        .count(
            &p1.id,
            Table::Requests,
            &[Cond::Cmp(
                Col::CreatedAt,
                Cmp::Gte,
                Val::Int(sent[100].created_at),
            )],
        )
        .await
        .unwrap();
    assert_eq!(since, 100);
    let queued = store
        .count(
            &p1.id,
            Table::Events,
            &[Cond::In(
                Col::Status,
                vec![Val::Text("QUEUED".into()), Val::Text("HOLD".into())],
            )],
        )
        .await
        .unwrap();
    assert_eq!(queued, 2);

    // ---- deletes cascade to connections; deleting nothing is NotFound ----
    store
        .apply(&p1.id, vec![Change::DeleteDestination(dcli.id.clone())])
        .await
        .unwrap();
    assert_eq!(store.connection(&p1.id, &ccli.id).await.unwrap(), None);
    store
        .apply(&p1.id, vec![Change::DeleteSource(s1.id.clone())])
        .await
        .unwrap();
    assert_eq!(store.connection(&p1.id, &c1.id).await.unwrap(), None);
    assert!(
        store.request(&p1.id, &r0.id).await.unwrap().is_some(),
        "requests outlive their source"
    );
    assert!(matches!(
        store
            .apply(&p1.id, vec![Change::DeleteSource(s1.id.clone())])
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .apply(&p2.id, vec![Change::DeleteDestination(d1.id.clone())])
            .await,
        Err(StoreError::NotFound)
    ));
}
