-- Pier SQLite schema, version 1. Append-only: never edit once released; add 0002_… instead.
-- Timestamps are INTEGER milliseconds since the Unix epoch (UTC).

CREATE TABLE projects (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    signing_secret TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_project ON api_keys(project_id);

CREATE TABLE sources (
    id                   TEXT PRIMARY KEY,
    project_id           TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    key                  TEXT NOT NULL UNIQUE,
    description          TEXT,
    allowed_http_methods TEXT NOT NULL,
    custom_response      TEXT,
    verification         TEXT,
    disabled_at          INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX sources_list ON sources(project_id, created_at, id);

CREATE TABLE destinations (
    id                       TEXT PRIMARY KEY,
    project_id               TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name                     TEXT NOT NULL,
    description              TEXT,
    url                      TEXT,
    cli_path                 TEXT,
    path_forwarding_disabled INTEGER NOT NULL,
    http_method              TEXT,
    rate_limit               INTEGER,
    rate_limit_period        TEXT NOT NULL,
    auth_method              TEXT NOT NULL,
    disabled_at              INTEGER,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX destinations_list ON destinations(project_id, created_at, id);

CREATE TABLE connections (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    description    TEXT,
    source_id      TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    destination_id TEXT NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
    rules          TEXT NOT NULL,
    paused_at      INTEGER,
    disabled_at    INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (source_id, name)
);
CREATE INDEX connections_list ON connections(project_id, created_at, id);
CREATE INDEX connections_destination ON connections(destination_id);

-- Requests outlive the source they came in on, so no foreign key to sources.
CREATE TABLE requests (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL,
    source_id        TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    query            TEXT NOT NULL,
    headers          TEXT NOT NULL,
    body             BLOB,
    body_size        INTEGER NOT NULL,
    original_ip      TEXT,
    verified         INTEGER NOT NULL,
    rejection_cause  TEXT,
    events_count     INTEGER NOT NULL DEFAULT 0,
    ignored_count    INTEGER NOT NULL DEFAULT 0,
    cli_events_count INTEGER NOT NULL DEFAULT 0,
    routed           INTEGER NOT NULL,
    ingested_at      INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX requests_list ON requests(project_id, created_at, id);
CREATE INDEX requests_source ON requests(project_id, source_id, created_at);
CREATE INDEX requests_unrouted ON requests(id) WHERE routed = 0;

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    destination_id  TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    next_attempt_at INTEGER,
    response_status INTEGER,
    error_code      TEXT,
    successful_at   INTEGER,
    cli_id          TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (request_id, connection_id)
);
CREATE INDEX events_list ON events(project_id, created_at, id);
CREATE INDEX events_status ON events(project_id, status, created_at);
CREATE INDEX events_connection ON events(connection_id, created_at);

CREATE TABLE ignored_events (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    cause         TEXT NOT NULL,
    meta          TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (request_id, connection_id)
);
CREATE INDEX ignored_events_list ON ignored_events(project_id, created_at, id);
