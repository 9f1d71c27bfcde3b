//! The storage conformance story: one test body that every backend runs on a fresh, empty
//! store (`run(store).await`). It panics with a message on the first broken promise.

use crate::{
    AttemptRecord, Change, Claimed, Cmp, Col, Cond, EventLease, ListQuery, Routing, Store, StoreError, Table, Val,
};
use pier_core::{
    keys, Attempt, AttemptTrigger, AuthMethod, BatchKind, BatchOperation, Bookmark, CliSession, Connection,
    Destination, Event, EventStatus, IdKind, IgnoredCause, IgnoredEvent, Project, RateLimitPeriod, RejectionCause,
    Request, Source, Transformation, TransformationExecution, TransformedRequest,
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
        headers: vec![("content-type".into(), "application/json".into()), ("x-bin".into(), "\\xff".into())],
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
    let mut ids = Ids { rng: StdRng::seed_from_u64(7), now: 1_700_000_000_000 };
    store.ping().await.expect("ping");

    // ---- projects and keys ----
    let p1 = Project::new(ids.next(IdKind::Project), "one".into(), "s1".into(), ids.now);
    let p2 = Project::new(ids.next(IdKind::Project), "two".into(), "s2".into(), ids.now);
    store.create_project(&p1, &keys::hash_api_key("k1")).await.expect("create p1");
    store.create_project(&p2, &keys::hash_api_key("k2")).await.expect("create p2");
    let dup = Project { id: ids.next(IdKind::Project), ..p1.clone() };
    assert!(matches!(store.create_project(&dup, &keys::hash_api_key("k3")).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.list_projects().await.unwrap().len(), 2);
    assert_eq!(store.project_by_key_hash(&keys::hash_api_key("k1")).await.unwrap(), Some(p1.clone()));
    assert_eq!(store.project_by_key_hash(&keys::hash_api_key("nope")).await.unwrap(), None);
    store.replace_api_keys(&p1.id, &keys::hash_api_key("k1b"), ids.now).await.expect("rotate");
    assert_eq!(store.project_by_key_hash(&keys::hash_api_key("k1")).await.unwrap(), None, "old key must stop working");
    assert_eq!(store.project_by_key_hash(&keys::hash_api_key("k1b")).await.unwrap().map(|p| p.id), Some(p1.id.clone()));
    assert!(matches!(store.replace_api_keys("tm_missing", "h", 0).await, Err(StoreError::NotFound)));
    store.add_api_key(&p2.id, &keys::hash_api_key("k2b"), ids.now).await.expect("add key");
    assert_eq!(store.project_by_key_hash(&keys::hash_api_key("k2")).await.unwrap().map(|p| p.id), Some(p2.id.clone()));
    assert_eq!(store.project_by_key_hash(&keys::hash_api_key("k2b")).await.unwrap().map(|p| p.id), Some(p2.id.clone()));
    assert!(matches!(store.add_api_key(&p1.id, &keys::hash_api_key("k2b"), 0).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.add_api_key("tm_missing", "h2", 0).await, Err(StoreError::NotFound)));
    store.set_signing_secret(&p1.id, "s1b").await.unwrap();
    assert_eq!(store.project(&p1.id).await.unwrap().unwrap().signing_secret, "s1b");

    // ---- sources: put, get, unique names, isolation, update ----
    let mut s1 = source(&mut ids, &p1.id, "inbound");
    store.apply(&p1.id, vec![Change::PutSource(s1.clone())]).await.expect("put source");
    assert_eq!(store.source(&p1.id, &s1.id).await.unwrap(), Some(s1.clone()));
    assert_eq!(store.source_by_name(&p1.id, "inbound").await.unwrap(), Some(s1.clone()));
    assert_eq!(store.source_by_key(&s1.key).await.unwrap(), Some(s1.clone()));
    assert_eq!(store.source(&p2.id, &s1.id).await.unwrap(), None, "another project must not see it");
    let clash = source(&mut ids, &p1.id, "inbound");
    assert!(matches!(store.apply(&p1.id, vec![Change::PutSource(clash)]).await, Err(StoreError::Conflict(_))));
    let same_name_other_project = source(&mut ids, &p2.id, "inbound");
    store.apply(&p2.id, vec![Change::PutSource(same_name_other_project.clone())]).await.expect("names are per project");
    assert!(
        store.apply(&p1.id, vec![Change::PutSource(same_name_other_project.clone())]).await.is_err(),
        "a project cannot write another's object"
    );
    s1.description = Some("updated".into());
    s1.updated_at += 5;
    store.apply(&p1.id, vec![Change::PutSource(s1.clone())]).await.expect("update source");
    assert_eq!(store.source(&p1.id, &s1.id).await.unwrap().unwrap().description.as_deref(), Some("updated"));

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
    assert_eq!(store.destination(&p1.id, &d1.id).await.unwrap(), Some(d1.clone()));
    assert_eq!(store.destination_by_name(&p1.id, "internal-api").await.unwrap(), Some(d1.clone()));
    assert_eq!(store.connection(&p1.id, &c1.id).await.unwrap(), Some(c1.clone()));
    assert_eq!(store.connection_by_name(&p1.id, &s1.id, "conn").await.unwrap(), Some(c1.clone()));
    assert_eq!(store.connection(&p2.id, &c1.id).await.unwrap(), None);
    assert_eq!(store.connections_of_source(&s1.id).await.unwrap().len(), 2);

    // A batch with a bad reference changes nothing.
    let d_rolled_back = destination(&mut ids, &p1.id, "rolled-back", false);
    let mut bad = connection(&mut ids, &p1.id, "bad", &s1, &d1);
    bad.source_id = same_name_other_project.id.clone();
    let r = store.apply(&p1.id, vec![Change::PutDestination(d_rolled_back.clone()), Change::PutConnection(bad)]).await;
    assert!(matches!(r, Err(StoreError::InvalidReference(_))), "{r:?}");
    assert_eq!(store.destination(&p1.id, &d_rolled_back.id).await.unwrap(), None, "apply must be atomic");
    assert_eq!(
        store.count(&p1.id, Table::Connections, &[Cond::Eq(Col::SourceId, Val::Text(s1.id.clone()))]).await.unwrap(),
        2
    );
    assert_eq!(store.count(&p1.id, Table::Connections, &[Cond::IsNull(Col::PausedAt, false)]).await.unwrap(), 0);

    // ---- list and pagination ----
    let mut names = Vec::new();
    for i in 0..5 {
        let s = source(&mut ids, &p2.id, &format!("page-{i}"));
        names.push(s.id.clone());
        store.apply(&p2.id, vec![Change::PutSource(s)]).await.unwrap();
    }
    let q = ListQuery { limit: 2, conds: vec![Cond::Contains(Col::Name, "PAGE".into())], ..ListQuery::default() };
    let page1 = store.list_sources(&p2.id, &q).await.unwrap();
    assert_eq!(page1.models.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["page-4", "page-3"]);
    assert!(page1.prev.is_none());
    let page2 = store.list_sources(&p2.id, &ListQuery { cursor: page1.next.clone(), ..q.clone() }).await.unwrap();
    assert_eq!(page2.models.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["page-2", "page-1"]);
    let page3 = store.list_sources(&p2.id, &ListQuery { cursor: page2.next.clone(), ..q.clone() }).await.unwrap();
    assert_eq!(page3.models.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["page-0"]);
    assert!(page3.next.is_none());
    let back = store.list_sources(&p2.id, &ListQuery { cursor: page3.prev.clone(), ..q.clone() }).await.unwrap();
    assert_eq!(back.models.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["page-2", "page-1"]);
    let asc = store.list_sources(&p2.id, &ListQuery { desc: false, ..q.clone() }).await.unwrap();
    assert_eq!(asc.models[0].name, "page-0");
    assert!(store.list_sources(&p2.id, &ListQuery::default().with(Cond::Eq(Col::Status, Val::Int(1)))).await.is_err());

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
    let got = store.request(&p1.id, &sent[17].id).await.unwrap().expect("stored");
    assert_eq!(got, sent[17], "a request reads back exactly, body bytes included");
    assert_eq!(store.request(&p2.id, &sent[17].id).await.unwrap(), None);
    let unrouted = store.unrouted_requests(1000, "node-r").await.unwrap();
    assert_eq!(unrouted.len(), 200);

    let r0 = &sent[0];
    let e1 = event_for(&mut ids, r0, &c1);
    let e2 = event_for(&mut ids, r0, &ccli);
    let routing =
        Routing { request_id: r0.id.clone(), events: vec![e1.clone(), e2.clone()], now: ids.now, ..Routing::default() };
    store.complete_routing(routing.clone()).await.expect("route");
    // Replaying routing (a crash between the write and its acknowledgement) changes nothing.
    let mut replay = routing.clone();
    replay.events = vec![event_for(&mut ids, r0, &c1), event_for(&mut ids, r0, &ccli)];
    store.complete_routing(replay).await.expect("route again");
    let stored = store.request(&p1.id, &r0.id).await.unwrap().unwrap();
    assert!(stored.routed);
    assert_eq!((stored.events_count, stored.cli_events_count, stored.ignored_count), (1, 1, 0));
    let evs = store
        .list_events(&p1.id, &ListQuery::default().with(Cond::Eq(Col::RequestId, Val::Text(r0.id.clone()))))
        .await
        .unwrap();
    assert_eq!(evs.models.len(), 2);
    assert_eq!(store.event(&p1.id, &e1.id).await.unwrap(), Some(e1.clone()));
    assert_eq!(store.event(&p2.id, &e1.id).await.unwrap(), None);
    // A shared backend may lease what it returned before, so only check that r0 is done.
    assert!(store.unrouted_requests(1000, "node-r").await.unwrap().iter().all(|r| r.id != r0.id));

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
            now: ids.now,
            ..Routing::default()
        })
        .await
        .unwrap();
    let ig = store
        .list_ignored_events(&p1.id, &ListQuery::default().with(Cond::Eq(Col::RequestId, Val::Text(r1.id.clone()))))
        .await
        .unwrap();
    assert_eq!(ig.models, vec![ign]);
    // A request retry replaces the ignored event of a connection by an event.
    let retry_event = event_for(&mut ids, r1, &c1);
    let retry = Routing {
        request_id: r1.id.clone(),
        events: vec![retry_event.clone()],
        now: ids.now,
        replace_ignored: vec![c1.id.clone()],
        ..Routing::default()
    };
    store.complete_routing(retry).await.unwrap();
    let after = store.request(&p1.id, &r1.id).await.unwrap().unwrap();
    assert_eq!((after.events_count, after.ignored_count), (1, 0));
    assert_eq!(store.event(&p1.id, &retry_event.id).await.unwrap(), Some(retry_event));
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
        store.request(&p1.id, &r2.id).await.unwrap().unwrap().rejection_cause,
        Some(RejectionCause::NoConnection)
    );

    // Lists of requests: without bodies by default, filters, counts.
    let page = store.list_requests(&p1.id, &ListQuery { limit: 10, ..ListQuery::default() }, false).await.unwrap();
    assert_eq!(page.models.len(), 10);
    assert!(page.models.iter().all(|r| r.body.is_none()));
    assert_eq!(page.models[0].id, sent[199].id, "newest first");
    let with_bodies = store.list_requests(&p1.id, &ListQuery { limit: 1, ..ListQuery::default() }, true).await.unwrap();
    assert_eq!(with_bodies.models[0].body, sent[199].body);
    let rejected = store
        .list_requests(&p1.id, &ListQuery::default().with(Cond::IsNull(Col::RejectionCause, false)), false)
        .await
        .unwrap();
    assert_eq!(rejected.models.len(), 1);
    let since = store
        .count(&p1.id, Table::Requests, &[Cond::Cmp(Col::CreatedAt, Cmp::Gte, Val::Int(sent[100].created_at))])
        .await
        .unwrap();
    assert_eq!(since, 100);
    let queued = store
        .count(
            &p1.id,
            Table::Events,
            &[Cond::In(Col::Status, vec![Val::Text("QUEUED".into()), Val::Text("HOLD".into())])],
        )
        .await
        .unwrap();
    assert_eq!(queued, 3, "two from routing, one from the retry");

    // ---- deletes cascade to connections; deleting nothing is NotFound ----
    store.apply(&p1.id, vec![Change::DeleteDestination(dcli.id.clone())]).await.unwrap();
    assert_eq!(store.connection(&p1.id, &ccli.id).await.unwrap(), None);
    store.apply(&p1.id, vec![Change::DeleteSource(s1.id.clone())]).await.unwrap();
    assert_eq!(store.connection(&p1.id, &c1.id).await.unwrap(), None);
    assert!(store.request(&p1.id, &r0.id).await.unwrap().is_some(), "requests outlive their source");
    assert!(matches!(store.apply(&p1.id, vec![Change::DeleteSource(s1.id.clone())]).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.apply(&p2.id, vec![Change::DeleteDestination(d1.id.clone())]).await,
        Err(StoreError::NotFound)
    ));

    delivery(&store, &mut ids, &p1, &p2).await;
    claims_bounded_by_bytes(&store, &mut ids, &p1).await;
    rules(&store, &mut ids, &p1, &p2).await;
    bookmarks_and_batches(&store, &mut ids, &p1, &p2).await;
}

/// A source `{name}-src`, a destination `{name}-dst` and a connection `name` between them,
/// stored in `p1`.
async fn flow(store: &Arc<dyn Store>, ids: &mut Ids, p1: &Project, name: &str) -> (Source, Destination, Connection) {
    let s = source(ids, &p1.id, &format!("{name}-src"));
    let d = destination(ids, &p1.id, &format!("{name}-dst"), false);
    let c = connection(ids, &p1.id, name, &s, &d);
    let changes =
        vec![Change::PutSource(s.clone()), Change::PutDestination(d.clone()), Change::PutConnection(c.clone())];
    store.apply(&p1.id, changes).await.unwrap();
    (s, d, c)
}

async fn bookmarks_and_batches(store: &Arc<dyn Store>, ids: &mut Ids, p1: &Project, p2: &Project) {
    let (s, d, c) = flow(store, ids, p1, "bookmark").await;
    let r = request(ids, &s, b"{\"saved\":true}");
    store.ingest(r.clone()).await.unwrap();

    // ---- a request stored with its routing at once ----
    let mut routed = request(ids, &s, b"{\"inline\":true}");
    routed.routed = true;
    routed.events_count = 1;
    let inline_event = event_for(ids, &routed, &c);
    let routing = Routing {
        request_id: routed.id.clone(),
        events: vec![inline_event.clone()],
        now: ids.now,
        ..Routing::default()
    };
    store.ingest_routed(routed.clone(), routing).await.expect("ingest routed");
    let back = store.request(&p1.id, &routed.id).await.unwrap().expect("stored");
    assert_eq!((back.routed, back.events_count, back.ignored_count), (true, 1, 0));
    assert_eq!(store.event(&p1.id, &inline_event.id).await.unwrap().map(|e| e.status), Some(EventStatus::Queued));
    assert!(store.unrouted_requests(1000, "node-r").await.unwrap().iter().all(|q| q.id != routed.id));

    // ---- several requests routed at ingest at once: queued, held by a pause, ignored ----
    let notices = store.subscribe_due();
    // Destinations of their own, so the only notice for `queued_dest` is this batch's.
    let (queued_dest, held_dest) =
        (destination(ids, &p1.id, "inline-queued-dst", false), destination(ids, &p1.id, "inline-held-dst", false));
    let queued_conn = connection(ids, &p1.id, "inline-queued", &s, &queued_dest);
    let paused = Connection { paused_at: Some(ids.now), ..connection(ids, &p1.id, "inline-paused", &s, &held_dest) };
    let changes = vec![
        Change::PutDestination(queued_dest.clone()),
        Change::PutDestination(held_dest.clone()),
        Change::PutConnection(queued_conn.clone()),
        Change::PutConnection(paused.clone()),
    ];
    store.apply(&p1.id, changes).await.unwrap();
    let mut sent = Vec::new();
    for i in 0..5 {
        let mut q = request(ids, &s, format!("{{\"inline\":{i}}}").as_bytes());
        q.routed = true;
        q.events_count = 2;
        q.ignored_count = 1;
        let (queued, held) = (event_for(ids, &q, &queued_conn), event_for(ids, &q, &paused));
        let ignored = IgnoredEvent {
            id: ids.next(IdKind::IgnoredEvent),
            project_id: p1.id.clone(),
            request_id: q.id.clone(),
            connection_id: c.id.clone(),
            cause: IgnoredCause::Filtered,
            meta: None,
            created_at: ids.now,
            updated_at: ids.now,
        };
        let routing = Routing {
            request_id: q.id.clone(),
            events: vec![queued.clone(), held.clone()],
            ignored: vec![ignored.clone()],
            now: ids.now,
            ..Routing::default()
        };
        let store = store.clone();
        sent.push((
            q.clone(),
            queued,
            held,
            ignored,
            tokio::spawn(async move { store.ingest_routed(q, routing).await }),
        ));
    }
    for (q, queued, held, ignored, task) in sent {
        task.await.unwrap().expect("ingest routed, several at once");
        let back = store.request(&p1.id, &q.id).await.unwrap().expect("stored");
        assert_eq!((back.routed, back.events_count, back.ignored_count), (true, 2, 1));
        assert_eq!(back.body, q.body, "the body is stored as sent");
        assert_eq!(back.headers, q.headers);
        let status = |e: Option<Event>| e.map(|e| (e.status, e.next_attempt_at.is_some()));
        assert_eq!(status(store.event(&p1.id, &queued.id).await.unwrap()), Some((EventStatus::Queued, true)));
        assert_eq!(
            status(store.event(&p1.id, &held.id).await.unwrap()),
            Some((EventStatus::Hold, false)),
            "an event of a paused connection is held"
        );
        let ig = store
            .list_ignored_events(&p1.id, &ListQuery::default().with(Cond::Eq(Col::RequestId, Val::Text(q.id.clone()))))
            .await
            .unwrap();
        assert_eq!(ig.models.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), vec![ignored.id.clone()]);
    }
    if let Some(mut notices) = notices {
        // A store shared by several nodes tells them all that the queued events are due.
        let wanted = (p1.id.clone(), queued_dest.id.clone());
        let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while let Some((project, dest, _)) = notices.recv().await {
                if (project.clone(), dest) == wanted {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(heard, Ok(true), "a due notice for the destination of the queued events");
    }

    // ---- events leased as they are stored (delivered from memory by the ingesting node) ----
    if store.leases_at_ingest() {
        let ls = source(ids, &p1.id, "lease-src");
        let ld = destination(ids, &p1.id, "lease-dst", false);
        let lc = connection(ids, &p1.id, "lease", &ls, &ld);
        let paused = Connection { paused_at: Some(ids.now), ..connection(ids, &p1.id, "lease-paused", &ls, &ld) };
        let changes = vec![
            Change::PutSource(ls.clone()),
            Change::PutDestination(ld.clone()),
            Change::PutConnection(lc.clone()),
            Change::PutConnection(paused.clone()),
        ];
        store.apply(&p1.id, changes).await.unwrap();
        let mut q = request(ids, &ls, b"{\"leased\":true}");
        q.routed = true;
        q.events_count = 2;
        let (queued, held) = (event_for(ids, &q, &lc), event_for(ids, &q, &paused));
        let lease = EventLease {
            node: "node-lease".into(),
            until: ids.now + 60_000,
            event_ids: vec![queued.id.clone(), held.id.clone()],
        };
        let routing = Routing {
            request_id: q.id.clone(),
            events: vec![queued.clone(), held.clone()],
            now: ids.now,
            lease: Some(lease),
            ..Routing::default()
        };
        let leased = store.ingest_routed(q, routing).await.expect("ingest with a lease");
        assert_eq!(leased, vec![queued.id.clone()], "the queued event is leased, the one held by the pause is not");
        let other = store.claim_due(&ld.id, ids.now + 1, 100, u64::MAX, ids.now + 60_000, "node-other").await.unwrap();
        assert!(other.is_empty(), "a leased event is not claimed by another lane: {other:?}");
        assert_eq!(store.event(&p1.id, &held.id).await.unwrap().map(|e| e.status), Some(EventStatus::Hold));
    }

    // ---- bookmarks: put, read, names unique per project, isolation, trigger, delete ----
    let mut b = Bookmark {
        id: ids.next(IdKind::Bookmark),
        project_id: p1.id.clone(),
        connection_id: c.id.clone(),
        request_id: r.id.clone(),
        label: "A saved order".into(),
        name: Some("saved-order".into()),
        last_used_at: None,
        created_at: ids.now,
        updated_at: ids.now,
    };
    store.put_bookmark(&b).await.expect("put bookmark");
    assert_eq!(store.bookmark(&p1.id, &b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.bookmark(&p2.id, &b.id).await.unwrap(), None, "another project must not see it");
    let clash = Bookmark { id: ids.next(IdKind::Bookmark), ..b.clone() };
    assert!(matches!(store.put_bookmark(&clash).await, Err(StoreError::Conflict(_))));
    let unnamed = Bookmark { id: ids.next(IdKind::Bookmark), name: None, ..b.clone() };
    let unnamed2 = Bookmark { id: ids.next(IdKind::Bookmark), name: None, ..b.clone() };
    store.put_bookmark(&unnamed).await.expect("bookmarks without a name do not clash");
    store.put_bookmark(&unnamed2).await.expect("bookmarks without a name do not clash");
    b.label = "Renamed".into();
    b.updated_at += 1;
    store.put_bookmark(&b).await.expect("update bookmark");
    let q = ListQuery::default().with(Cond::Eq(Col::Label, Val::Text("Renamed".into())));
    assert_eq!(store.list_bookmarks(&p1.id, &q).await.unwrap().models, vec![b.clone()]);
    let by_conn = ListQuery::default().with(Cond::Eq(Col::ConnectionId, Val::Text(c.id.clone())));
    assert_eq!(store.list_bookmarks(&p1.id, &by_conn).await.unwrap().models.len(), 3);
    assert!(store.list_bookmarks(&p2.id, &by_conn).await.unwrap().models.is_empty());

    // A trigger stores a copy of the request with one event on the connection, due now.
    let now = ids.now + 5;
    let mut copy = request(ids, &s, b"{\"saved\":true}");
    copy.routed = true;
    let triggered = event_for(ids, &copy, &c);
    store.trigger_bookmark(&b.id, copy.clone(), triggered.clone()).await.expect("trigger");
    let stored = store.request(&p1.id, &copy.id).await.unwrap().expect("the copy is stored");
    assert_eq!((stored.routed, stored.events_count), (true, 1));
    assert_eq!(store.event(&p1.id, &triggered.id).await.unwrap().map(|e| e.status), Some(EventStatus::Queued));
    assert!(store.bookmark(&p1.id, &b.id).await.unwrap().unwrap().last_used_at.is_some());
    let stranger = Request { project_id: p2.id.clone(), ..request(ids, &s, b"{}") };
    let e2 = event_for(ids, &stranger, &c);
    assert!(matches!(store.trigger_bookmark(&b.id, stranger.clone(), e2).await, Err(StoreError::NotFound)));
    assert_eq!(store.request(&p2.id, &stranger.id).await.unwrap(), None, "a refused trigger stores nothing");
    assert!(matches!(store.delete_bookmark(&p2.id, &b.id).await, Err(StoreError::NotFound)));
    store.delete_bookmark(&p1.id, &b.id).await.expect("delete");
    assert_eq!(store.bookmark(&p1.id, &b.id).await.unwrap(), None);
    let _ = now;

    // ---- requeue (bulk retry): due now with the trigger; held and leased events are left ----
    let mut evs = Vec::new();
    for _ in 0..3 {
        let r = request(ids, &s, b"{}");
        store.ingest(r.clone()).await.unwrap();
        let e = event_for(ids, &r, &c);
        store
            .complete_routing(Routing {
                request_id: r.id.clone(),
                events: vec![e.clone()],
                now: ids.now,
                ..Routing::default()
            })
            .await
            .unwrap();
        evs.push(e);
    }
    let now = ids.now + 10;
    let claimed = store.claim_due(&d.id, now, 100, u64::MAX, now + 60_000, "node-a").await.unwrap();
    assert!(claimed.len() >= 3);
    for cl in &claimed {
        if cl.event.id != evs[0].id {
            let a = attempt_for(ids, cl, false, Some(500));
            let rec = AttemptRecord { attempt: a, status: EventStatus::Failed, next_attempt_at: None, now };
            store.record_attempt(rec).await.unwrap();
        }
    }
    let ids_all: Vec<String> = evs.iter().map(|e| e.id.clone()).collect();
    let dests = store.requeue_events(&p1.id, &ids_all, AttemptTrigger::BulkRetry, now + 1).await.unwrap();
    assert_eq!(dests, vec![d.id.clone(), d.id.clone()], "the leased event is left alone");
    assert!(store.requeue_events(&p2.id, &ids_all, AttemptTrigger::BulkRetry, now + 1).await.unwrap().is_empty());
    let again = store.claim_due(&d.id, now + 2, 100, u64::MAX, now + 60_000, "node-a").await.unwrap();
    let mut got: Vec<&str> = again.iter().map(|c| c.event.id.as_str()).collect();
    got.sort();
    let mut want = vec![evs[1].id.as_str(), evs[2].id.as_str()];
    want.sort();
    assert_eq!(got, want);
    assert!(again.iter().all(|c| c.trigger == AttemptTrigger::BulkRetry));

    // ---- retention: old requests with nothing pending go, with what hangs off them ----
    let old_at = 1_000_000; // long before everything else in this story
    let aged = |ids: &mut Ids, body: &[u8]| {
        let mut r = request(ids, &s, body);
        r.created_at = old_at;
        r.ingested_at = old_at;
        r.updated_at = old_at;
        r
    };
    let done_req = aged(ids, b"{\"old\":\"done\"}");
    let pending_req = aged(ids, b"{\"old\":\"pending\"}");
    let kept_req = aged(ids, b"{\"old\":\"bookmarked\"}");
    let mut done_event = event_for(ids, &done_req, &c);
    done_event.status = EventStatus::Successful;
    done_event.next_attempt_at = None;
    let pending_event = event_for(ids, &pending_req, &c);
    for (r, e) in [(&done_req, &done_event), (&pending_req, &pending_event)] {
        store.ingest(r.clone()).await.unwrap();
        let routing = Routing { request_id: r.id.clone(), events: vec![e.clone()], now: old_at, ..Routing::default() };
        store.complete_routing(routing).await.unwrap();
    }
    store.ingest(kept_req.clone()).await.unwrap();
    let keep = Bookmark {
        id: ids.next(IdKind::Bookmark),
        project_id: p1.id.clone(),
        connection_id: c.id.clone(),
        request_id: kept_req.id.clone(),
        label: "keep".into(),
        name: None,
        last_used_at: None,
        created_at: ids.now,
        updated_at: ids.now,
    };
    store.put_bookmark(&keep).await.unwrap();
    let old_attempt = Attempt {
        id: ids.next(IdKind::Attempt),
        project_id: p1.id.clone(),
        event_id: done_event.id.clone(),
        destination_id: d.id.clone(),
        attempt_number: 1,
        trigger: AttemptTrigger::Initial,
        successful: true,
        response_status: Some(200),
        error_code: None,
        body: Some("ok".into()),
        requested_url: Some("http://example.com".into()),
        http_method: Some("POST".into()),
        delivered_at: Some(old_at),
        responded_at: Some(old_at),
        delivery_latency: Some(1),
        response_latency: Some(1),
        created_at: old_at,
        updated_at: old_at,
    };
    let rec = AttemptRecord {
        attempt: old_attempt.clone(),
        status: EventStatus::Successful,
        next_attempt_at: None,
        now: old_at,
    };
    store.record_attempt(rec).await.unwrap();
    assert_eq!(store.purge(&p2.id, old_at + 1, 100).await.unwrap(), 0, "another project's purge touches nothing");
    assert_eq!(store.purge(&p1.id, old_at + 1, 100).await.unwrap(), 1, "only the finished, unbookmarked request");
    assert_eq!(store.request(&p1.id, &done_req.id).await.unwrap(), None);
    assert_eq!(store.event(&p1.id, &done_event.id).await.unwrap(), None);
    assert_eq!(store.attempt(&p1.id, &old_attempt.id).await.unwrap(), None);
    assert!(store.request(&p1.id, &pending_req.id).await.unwrap().is_some(), "a pending event keeps its request");
    assert!(store.event(&p1.id, &pending_event.id).await.unwrap().is_some());
    assert!(store.request(&p1.id, &kept_req.id).await.unwrap().is_some(), "a bookmark keeps its request");
    assert!(store.request(&p1.id, &r.id).await.unwrap().is_some(), "recent requests stay");
    assert_eq!(store.purge(&p1.id, old_at + 1, 100).await.unwrap(), 0);

    // ---- batch operations: put, update, unfinished, isolation ----
    let mut op = BatchOperation {
        id: ids.next(IdKind::BatchOperation),
        project_id: p1.id.clone(),
        kind: BatchKind::RequestsRetry,
        query: "{\"status\":\"FAILED\"}".into(),
        cursor: None,
        estimated_count: 250,
        processed_batch: 0,
        completed_count: 0,
        failed_count: 0,
        cancelled_at: None,
        completed_at: None,
        created_at: ids.now,
        updated_at: ids.now,
    };
    store.put_batch(&op).await.expect("put batch");
    assert_eq!(store.batch(&p1.id, &op.id).await.unwrap(), Some(op.clone()));
    assert_eq!(store.batch(&p2.id, &op.id).await.unwrap(), None);
    assert!(store.unfinished_batches().await.unwrap().iter().any(|b| b.id == op.id));
    op.cursor = Some("abc".into());
    op.processed_batch = 1;
    op.completed_count = 90;
    op.failed_count = 10;
    op.updated_at += 1;
    store.put_batch(&op).await.unwrap();
    assert_eq!(store.batch(&p1.id, &op.id).await.unwrap(), Some(op.clone()));
    assert_eq!(op.estimated_batch(), 3);
    assert!((op.progress() - 0.4).abs() < 1e-9);
    // A cancel sticks: a worker's later progress write (without it) does not undo it.
    let cancelled = BatchOperation { cancelled_at: Some(ids.now), ..op.clone() };
    store.put_batch(&cancelled).await.unwrap();
    op.processed_batch = 2;
    store.put_batch(&op).await.unwrap();
    let read = store.batch(&p1.id, &op.id).await.unwrap().unwrap();
    assert_eq!((read.cancelled_at, read.processed_batch), (Some(ids.now), 2));
    assert!(!read.in_progress());
    op.cancelled_at = Some(ids.now);
    op.completed_at = Some(ids.now);
    store.put_batch(&op).await.unwrap();
    assert!(store.unfinished_batches().await.unwrap().iter().all(|b| b.id != op.id));
    let listed = store.list_batches(&p1.id, &ListQuery::default()).await.unwrap();
    assert_eq!(listed.models, vec![op.clone()]);
    let of_kind = |k: BatchKind| ListQuery::default().with(Cond::Eq(Col::Kind, Val::Text(k.as_str().into())));
    assert_eq!(store.list_batches(&p1.id, &of_kind(BatchKind::RequestsRetry)).await.unwrap().models.len(), 1);
    assert!(store.list_batches(&p1.id, &of_kind(BatchKind::EventsRetry)).await.unwrap().models.is_empty());
    assert!(store.list_batches(&p2.id, &ListQuery::default()).await.unwrap().models.is_empty());
}

/// Transformations, executions, deduplication keys, transformed event data.
async fn rules(store: &Arc<dyn Store>, ids: &mut Ids, p1: &Project, p2: &Project) {
    let now = ids.now;
    let t = Transformation {
        id: ids.next(IdKind::Transformation),
        project_id: p1.id.clone(),
        name: "add-field".into(),
        code: "addHandler('transform', (r) => r)".into(),
        env: serde_json::json!({"K": "v"}).as_object().cloned().unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    store.put_transformation(&t).await.unwrap();
    assert_eq!(store.transformation(&p1.id, &t.id).await.unwrap(), Some(t.clone()));
    assert_eq!(store.transformation_by_name(&p1.id, "add-field").await.unwrap(), Some(t.clone()));
    assert_eq!(store.transformation(&p2.id, &t.id).await.unwrap(), None);
    let clash = Transformation { id: ids.next(IdKind::Transformation), ..t.clone() };
    assert!(matches!(store.put_transformation(&clash).await, Err(StoreError::Conflict(_))));
    let mut changed = t.clone();
    changed.code = "addHandler('transform', (r) => { r.path = '/x'; return r; })".into();
    store.put_transformation(&changed).await.unwrap();
    assert_eq!(store.transformation(&p1.id, &t.id).await.unwrap().unwrap().code, changed.code);
    assert_eq!(store.list_transformations(&p1.id, &ListQuery::default()).await.unwrap().models.len(), 1);

    let exec = TransformationExecution {
        id: ids.next(IdKind::Transformation),
        project_id: p1.id.clone(),
        transformation_id: t.id.clone(),
        connection_id: Some("web_x".into()),
        request_id: Some("req_x".into()),
        log_level: "info".into(),
        logs: vec![pier_core::ConsoleLine { level: "log".into(), message: "hello".into() }],
        error: None,
        created_at: now,
        updated_at: now,
    };
    store.insert_execution(&exec).await.unwrap();
    let q = ListQuery::default().with(Cond::Eq(Col::TransformationId, Val::Text(t.id.clone())));
    assert_eq!(store.list_executions(&p1.id, &q).await.unwrap().models, vec![exec.clone()]);
    assert_eq!(store.execution(&p1.id, &exec.id).await.unwrap(), Some(exec.clone()));
    assert_eq!(store.execution(&p2.id, &exec.id).await.unwrap(), None);
    store.delete_transformation(&p1.id, &t.id).await.unwrap();
    assert!(matches!(store.delete_transformation(&p1.id, &t.id).await, Err(StoreError::NotFound)));

    // Deduplication: first sighting remembered, a second within the window is a duplicate,
    // the same request again is not, and after the window the key is fresh.
    assert!(!store.dedup_seen("web_d", "k1", "req_1", now, 1000).await.unwrap());
    assert!(store.dedup_seen("web_d", "k1", "req_2", now + 500, 1000).await.unwrap());
    assert!(!store.dedup_seen("web_d", "k1", "req_1", now + 600, 1000).await.unwrap(), "routing replayed");
    assert!(!store.dedup_seen("web_other", "k1", "req_2", now + 500, 1000).await.unwrap(), "per connection");
    assert!(!store.dedup_seen("web_d", "k1", "req_3", now + 2000, 1000).await.unwrap(), "after the window");
    assert!(store.dedup_seen("web_d", "k1", "req_4", now + 2500, 1000).await.unwrap());

    // Transformed data travels with the event to delivery.
    let (s, d, c) = flow(store, ids, p1, "transform").await;
    let r = request(ids, &s, b"{\"a\":1}");
    store.ingest(r.clone()).await.unwrap();
    let e = event_for(ids, &r, &c);
    let data = TransformedRequest {
        headers: vec![("x-added".into(), "1".into())],
        body: Some(bytes::Bytes::from_static(b"{\"a\":2}")),
        path: "/changed".into(),
        query: "z=1".into(),
    };
    let routing = Routing {
        request_id: r.id.clone(),
        events: vec![e.clone()],
        event_data: vec![(e.id.clone(), data.clone())],
        now: ids.now,
        ..Routing::default()
    };
    store.complete_routing(routing).await.unwrap();
    assert_eq!(store.event_data(&e.id).await.unwrap(), Some(data.clone()));
    let claimed = store.claim_due(&d.id, ids.now + 10, 10, u64::MAX, ids.now + 1000, "n").await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].data, Some(data));

    // CLI sessions: connected while a node holds them and they were seen recently.
    let mut cs = CliSession {
        id: ids.next(IdKind::CliSession),
        project_id: p1.id.clone(),
        webhook_ids: vec!["web_cli1".into(), "web_cli2".into()],
        node: None,
        seen_at: now,
        created_at: now,
    };
    store.put_cli_session(&cs).await.unwrap();
    assert_eq!(store.cli_session(&p1.id, &cs.id).await.unwrap(), Some(cs.clone()));
    assert_eq!(store.cli_session(&p2.id, &cs.id).await.unwrap(), None);
    assert!(!store.cli_connected("web_cli1", now - 10).await.unwrap(), "not connected yet");
    cs.node = Some("node-a".into());
    store.put_cli_session(&cs).await.unwrap();
    assert!(store.cli_connected("web_cli2", now - 10).await.unwrap());
    assert!(!store.cli_connected("web_cli", now - 10).await.unwrap(), "exact connection ids");
    assert!(!store.cli_connected("web_cli1", now + 10).await.unwrap(), "not seen recently");

    // Metrics: per-minute counts and attempts of the project only.
    let m = store.metrics(&p1.id, 0).await.unwrap();
    let accepted: i64 = m.requests.iter().map(|r| r.1).sum();
    let rejected: i64 = m.requests.iter().map(|r| r.2).sum();
    assert!(accepted >= 200 && rejected == 1, "{accepted} accepted, {rejected} rejected (NO_CONNECTION)");
    assert!(m.events.iter().map(|e| e.1).sum::<i64>() >= 3);
    assert!(m.attempts.iter().any(|a| a.1) && m.attempts.iter().any(|a| !a.1), "successful and failed attempts");
    assert!(m.queue.iter().any(|(_, n, due)| *n >= 1 && due.is_some()), "events waiting per destination");
    let other = store.metrics(&p2.id, 0).await.unwrap();
    assert!(other.attempts.is_empty());
    assert!(store.metrics(&p1.id, now + 10_000_000).await.unwrap().requests.is_empty(), "since is honoured");
}

fn attempt_for(ids: &mut Ids, c: &Claimed, successful: bool, status: Option<i64>) -> Attempt {
    let now = ids.now;
    Attempt {
        id: ids.next(IdKind::Attempt),
        project_id: c.event.project_id.clone(),
        event_id: c.event.id.clone(),
        destination_id: c.event.destination_id.clone(),
        attempt_number: c.event.attempts + 1,
        trigger: c.trigger,
        successful,
        response_status: status,
        error_code: if status.is_none() { Some("TIMEOUT".into()) } else { None },
        body: Some("ok".into()),
        requested_url: Some("http://127.0.0.1:9/x".into()),
        http_method: Some("POST".into()),
        delivered_at: Some(now),
        responded_at: Some(now),
        delivery_latency: Some(3),
        response_latency: Some(2),
        created_at: now,
        updated_at: now,
    }
}

/// A claim stops before the bodies it loads pass its byte bound, in due order: an event past
/// the bound is left with every later one.
async fn claims_bounded_by_bytes(store: &Arc<dyn Store>, ids: &mut Ids, p1: &Project) {
    let (s, d, c) = flow(store, ids, p1, "bytes").await;
    let mut events = Vec::new();
    for size in [100, 100, 100, 100, 5000, 100] {
        ids.now += 1;
        let r = request(ids, &s, &vec![b'x'; size]);
        let e = event_for(ids, &r, &c);
        events.push(e.id.clone());
        let routing = Routing { request_id: r.id.clone(), events: vec![e], now: ids.now, ..Routing::default() };
        store.ingest_routed(r, routing).await.unwrap();
    }
    let now = ids.now + 10;
    let claim = |limit: u32, max_bytes: u64| {
        let (store, d) = (store.clone(), d.id.clone());
        async move {
            let mut got = store.claim_due(&d, now, limit, max_bytes, now + 60_000, "node-bytes").await.unwrap();
            got.sort_by_key(|c| c.event.next_attempt_at);
            got.into_iter().map(|c| c.event.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(claim(10, 300).await, events[..3], "100 + 100 + 100 bytes within 300");
    assert!(claim(10, 99).await.is_empty(), "a body past the bound is not claimed");
    assert_eq!(claim(10, 100).await, events[3..4]);
    assert!(claim(10, 4999).await.is_empty(), "nothing is claimed past an event left for its size");
    assert_eq!(claim(10, u64::MAX).await, events[4..]);
}

/// Leases, attempts, retries, pause and cancel.
async fn delivery(store: &Arc<dyn Store>, ids: &mut Ids, p1: &Project, p2: &Project) {
    let (s, d, c) = flow(store, ids, p1, "deliver").await;
    let mut scheduled = None;
    for i in 0..4 {
        let r = request(ids, &s, b"{}");
        store.ingest(r.clone()).await.unwrap();
        let mut e = event_for(ids, &r, &c);
        if i == 0 {
            // A delay rule's event: SCHEDULED until it is claimed, then QUEUED.
            e.status = EventStatus::Scheduled;
            scheduled = Some(e.id.clone());
        }
        let routing = Routing { request_id: r.id.clone(), events: vec![e], now: ids.now, ..Routing::default() };
        store.complete_routing(routing).await.unwrap();
    }
    let now = ids.now + 10;
    let due = store.due_destinations(now).await.unwrap();
    let mine = due.iter().find(|(p, id, _)| id == &d.id && p == &p1.id).expect("destination is due");
    assert!(mine.2 <= now);

    let first = store.claim_due(&d.id, now, 2, u64::MAX, now + 1000, "node-a").await.unwrap();
    assert_eq!(first.len(), 2, "claims are bounded by the limit");
    assert!(first.iter().all(|c| c.trigger == AttemptTrigger::Initial));
    assert_eq!(first[0].request.body.as_deref(), Some(&b"{}"[..]), "a claim carries the request body");
    let second = store.claim_due(&d.id, now, 10, u64::MAX, now + 1000, "node-b").await.unwrap();
    assert_eq!(second.len(), 2);
    let none = store.claim_due(&d.id, now, 10, u64::MAX, now + 1000, "node-b").await.unwrap();
    assert!(none.is_empty(), "leased events are not claimed twice");
    assert!(first.iter().chain(&second).all(|c| c.event.status == EventStatus::Queued), "claimed events are queued");
    let scheduled = scheduled.unwrap_or_default();
    assert_eq!(store.event(&p1.id, &scheduled).await.unwrap().map(|e| e.status), Some(EventStatus::Queued));
    assert_eq!(store.next_due(&d.id, now).await.unwrap(), None, "every deliverable event is leased");

    // A lease that expires makes the event claimable again.
    let expired = store.claim_due(&d.id, now + 1001, 1, u64::MAX, now + 5000, "node-c").await.unwrap();
    assert_eq!(expired.len(), 1);
    let busy =
        store.claim_event(&p1.id, &expired[0].event.id, AttemptTrigger::Manual, now + 1002, now + 6000, "x").await;
    assert!(matches!(busy, Err(StoreError::Conflict(_))), "{busy:?}");
    let other = store.claim_event(&p2.id, &expired[0].event.id, AttemptTrigger::Manual, now, now, "x").await.unwrap();
    assert!(other.is_none());
    assert!(store.claim_event(&p1.id, "evt_missing", AttemptTrigger::Manual, now, now, "x").await.unwrap().is_none());

    // A failure with a retry scheduled: FAILED with next_attempt_at, lease released.
    let c0 = &first[0];
    let a0 = attempt_for(ids, c0, false, Some(500));
    let retry_at = now + 2000;
    let rec = AttemptRecord { attempt: a0.clone(), status: EventStatus::Failed, next_attempt_at: Some(retry_at), now };
    let e0 = store.record_attempt(rec).await.unwrap();
    assert_eq!((e0.status, e0.attempts, e0.next_attempt_at), (EventStatus::Failed, 1, Some(retry_at)));
    assert_eq!((e0.response_status, e0.last_attempt_at), (Some(500), Some(now)));
    assert_eq!(store.next_due(&d.id, now).await.unwrap(), Some(retry_at));
    let early = store.claim_due(&d.id, now + 1500, 10, u64::MAX, now + 9000, "n").await.unwrap();
    assert!(early.iter().all(|c| c.event.id != c0.event.id), "the retry is not due yet");

    let retried = store.claim_due(&d.id, retry_at, 10, u64::MAX, retry_at + 1000, "n").await.unwrap();
    let got: Vec<_> = retried.iter().map(|c| (c.event.id.clone(), c.trigger)).collect();
    assert_eq!(got, vec![(c0.event.id.clone(), AttemptTrigger::Automatic)]);
    let a1 = attempt_for(ids, &retried[0], true, Some(200));
    let rec =
        AttemptRecord { attempt: a1.clone(), status: EventStatus::Successful, next_attempt_at: None, now: retry_at };
    let e1 = store.record_attempt(rec).await.unwrap();
    assert_eq!((e1.status, e1.attempts, e1.next_attempt_at), (EventStatus::Successful, 2, None));
    assert_eq!(e1.successful_at, Some(retry_at));
    let q =
        ListQuery { desc: false, ..ListQuery::default() }.with(Cond::Eq(Col::EventId, Val::Text(c0.event.id.clone())));
    assert_eq!(store.list_attempts(&p1.id, &q).await.unwrap().models, vec![a0.clone(), a1.clone()]);
    assert_eq!(store.attempt(&p1.id, &a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(store.attempt(&p2.id, &a1.id).await.unwrap(), None);

    // Cancel: no further attempts, and a late failure does not revive it.
    let c1 = &first[1];
    let cancelled = store.cancel_event(&p1.id, &c1.event.id, now).await.unwrap().unwrap();
    assert_eq!((cancelled.status, cancelled.next_attempt_at), (EventStatus::Cancelled, None));
    let rec = AttemptRecord {
        attempt: attempt_for(ids, c1, false, None),
        status: EventStatus::Failed,
        next_attempt_at: Some(now + 5),
        now,
    };
    let late = store.record_attempt(rec).await.unwrap();
    assert_eq!((late.status, late.next_attempt_at), (EventStatus::Cancelled, None));
    assert_eq!(late.error_code.as_deref(), Some("TIMEOUT"));
    assert!(store.cancel_event(&p2.id, &c1.event.id, now).await.unwrap().is_none());

    // Attempts recorded at once (one batch where the store groups them): an attempt of a
    // missing event is NotFound and leaves no row; the other is recorded.
    let mut missing = attempt_for(ids, c1, false, None);
    missing.event_id = "evt_missing".into();
    let again = attempt_for(ids, c1, false, None);
    let rec = |attempt| AttemptRecord { attempt, status: EventStatus::Failed, next_attempt_at: None, now };
    let (lost, kept) =
        tokio::join!(store.record_attempt(rec(missing.clone())), store.record_attempt(rec(again.clone())));
    assert!(matches!(lost, Err(StoreError::NotFound)), "{lost:?}");
    assert_eq!(kept.unwrap().attempts, 2, "the cancelled event counts its second late attempt");
    assert_eq!(store.attempt(&p1.id, &missing.id).await.unwrap(), None);
    assert_eq!(store.attempt(&p1.id, &again.id).await.unwrap(), Some(again));

    // Pause holds pending events (in flight too); unpause makes them due with trigger UNPAUSE.
    // (Leases of events held now expire by themselves; claim after the last one.)
    assert_eq!(store.hold_events(&p1.id, &c.id, now).await.unwrap(), 2, "the two undelivered events are held");
    assert!(store.claim_due(&d.id, now + 100_000, 10, u64::MAX, now + 200_000, "n").await.unwrap().is_empty());
    assert_eq!(store.release_held_events(&p1.id, &c.id, now + 3).await.unwrap(), vec![d.id.clone()]);
    let back = store.claim_due(&d.id, now + 10_000, 10, u64::MAX, now + 200_000, "n").await.unwrap();
    assert_eq!(back.len(), 2);
    assert!(back.iter().all(|c| c.trigger == AttemptTrigger::Unpause));

    // Routing racing a pause/unpause: the connection's state at commit time wins.
    let r_held = request(ids, &s, b"{}");
    store.ingest(r_held.clone()).await.unwrap();
    let mut stale_hold = event_for(ids, &r_held, &c);
    stale_hold.status = EventStatus::Hold;
    stale_hold.next_attempt_at = None;
    let routing =
        Routing { request_id: r_held.id.clone(), events: vec![stale_hold.clone()], now: ids.now, ..Routing::default() };
    store.complete_routing(routing).await.unwrap();
    let e = store.event(&p1.id, &stale_hold.id).await.unwrap().unwrap();
    assert_eq!(e.status, EventStatus::Queued, "held by a stale view of a connection that is not paused");
    assert!(e.next_attempt_at.is_some());
    let mut paused = c.clone();
    paused.paused_at = Some(ids.now);
    store.apply(&p1.id, vec![Change::PutConnection(paused)]).await.unwrap();
    let r_q = request(ids, &s, b"{}");
    store.ingest(r_q.clone()).await.unwrap();
    let stale_queued = event_for(ids, &r_q, &c);
    let routing =
        Routing { request_id: r_q.id.clone(), events: vec![stale_queued.clone()], now: ids.now, ..Routing::default() };
    store.complete_routing(routing).await.unwrap();
    let e = store.event(&p1.id, &stale_queued.id).await.unwrap().unwrap();
    assert_eq!(
        (e.status, e.next_attempt_at),
        (EventStatus::Hold, None),
        "queued by a stale view of a paused connection"
    );
    store.apply(&p1.id, vec![Change::PutConnection(c.clone())]).await.unwrap();
    store.release_held_events(&p1.id, &c.id, ids.now).await.unwrap();

    // A manual retry of a finished event leases it with trigger MANUAL.
    let manual = store.claim_event(&p1.id, &c0.event.id, AttemptTrigger::Manual, now + 4, now + 9, "n").await.unwrap();
    let manual = manual.expect("claimed");
    assert_eq!((manual.trigger, manual.event.status), (AttemptTrigger::Manual, EventStatus::Successful));

    // A node restarting releases the leases its previous run held.
    let later = now + 1_000_000;
    let held = store.claim_due(&d.id, later, 10, u64::MAX, later + 100_000, "node-r").await.unwrap();
    assert!(!held.is_empty());
    assert!(store.claim_due(&d.id, later, 10, u64::MAX, later + 100_000, "node-s").await.unwrap().is_empty());
    assert!(store.release_leases_of("node-r").await.unwrap() >= held.len() as u64);
    assert_eq!(store.claim_due(&d.id, later, 10, u64::MAX, later + 100_000, "node-s").await.unwrap().len(), held.len());
    // Destination ownership: one node at a time until it lapses.
    assert!(store.own_destination(&d.id, "node-a", later + 10, later).await.unwrap());
    assert!(store.own_destination(&d.id, "node-a", later + 20, later + 1).await.unwrap(), "renewal");
    store.release_destination(&d.id, "node-a").await.unwrap();
    assert!(store.own_destination(&d.id, "node-b", later + 30, later + 2).await.unwrap(), "released, free to take");

    store.rotate_signing_secret(&p1.id, "s-new", now + 86_400_000).await.unwrap();
    let p = store.project(&p1.id).await.unwrap().unwrap();
    assert_eq!((p.signing_secret.as_str(), p.previous_signing_secret.as_deref()), ("s-new", Some("s1b")));
    assert_eq!(p.previous_signing_secret_expires_at, Some(now + 86_400_000));
    assert!(matches!(store.rotate_signing_secret("tm_missing", "x", 0).await, Err(StoreError::NotFound)));
}
