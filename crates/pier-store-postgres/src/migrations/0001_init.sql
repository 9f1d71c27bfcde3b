-- Pier PostgreSQL schema, version 1. Append-only: never edit once released; add 0002_… instead.
-- Timestamps are BIGINT milliseconds since the Unix epoch (UTC), as in every Pier backend.

CREATE TABLE projects (
    id                                 TEXT PRIMARY KEY,
    name                               TEXT NOT NULL UNIQUE,
    signing_secret                     TEXT NOT NULL,
    previous_signing_secret            TEXT,
    previous_signing_secret_expires_at BIGINT,
    created_at                         BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
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
    disabled_at          BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    CONSTRAINT sources_name UNIQUE (project_id, name)
);
CREATE INDEX sources_list ON sources(project_id, created_at, id);

CREATE TABLE destinations (
    id                       TEXT PRIMARY KEY,
    project_id               TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name                     TEXT NOT NULL,
    description              TEXT,
    url                      TEXT,
    cli_path                 TEXT,
    path_forwarding_disabled BOOLEAN NOT NULL,
    http_method              TEXT,
    rate_limit               BIGINT,
    rate_limit_period        TEXT NOT NULL,
    auth_method              TEXT NOT NULL,
    disabled_at              BIGINT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    CONSTRAINT destinations_name UNIQUE (project_id, name)
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
    paused_at      BIGINT,
    disabled_at    BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT connections_name UNIQUE (source_id, name)
);
CREATE INDEX connections_list ON connections(project_id, created_at, id);
CREATE INDEX connections_destination ON connections(destination_id);

CREATE TABLE requests (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL,
    source_id        TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    query            TEXT NOT NULL,
    headers          TEXT NOT NULL,
    body             BYTEA,
    body_size        BIGINT NOT NULL,
    original_ip      TEXT,
    verified         BOOLEAN NOT NULL,
    rejection_cause  TEXT,
    events_count     BIGINT NOT NULL DEFAULT 0,
    ignored_count    BIGINT NOT NULL DEFAULT 0,
    cli_events_count BIGINT NOT NULL DEFAULT 0,
    routed           BOOLEAN NOT NULL,
    routing_lease    BIGINT,
    ingested_at      BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX requests_list ON requests(project_id, created_at, id);
CREATE INDEX requests_source ON requests(project_id, source_id, created_at);
CREATE INDEX requests_unrouted ON requests(id) WHERE NOT routed;

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    destination_id  TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT,
    next_attempt_at BIGINT,
    response_status BIGINT,
    error_code      TEXT,
    successful_at   BIGINT,
    cli_id          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    locked_until    BIGINT,
    locked_by       TEXT,
    next_trigger    TEXT,
    CONSTRAINT events_once UNIQUE (request_id, connection_id)
);
CREATE INDEX events_list ON events(project_id, created_at, id);
CREATE INDEX events_status ON events(project_id, status, created_at);
CREATE INDEX events_connection ON events(connection_id, status);
CREATE INDEX events_due ON events(destination_id, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL AND status <> 'HOLD';

CREATE TABLE ignored_events (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    cause         TEXT NOT NULL,
    meta          TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT ignored_once UNIQUE (request_id, connection_id)
);
CREATE INDEX ignored_events_list ON ignored_events(project_id, created_at, id);

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    destination_id   TEXT NOT NULL,
    attempt_number   BIGINT NOT NULL,
    trigger          TEXT NOT NULL,
    successful       BOOLEAN NOT NULL,
    response_status  BIGINT,
    error_code       TEXT,
    body             TEXT,
    requested_url    TEXT,
    http_method      TEXT,
    delivered_at     BIGINT,
    responded_at     BIGINT,
    delivery_latency BIGINT,
    response_latency BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX attempts_event ON attempts(event_id, created_at);
CREATE INDEX attempts_list ON attempts(project_id, created_at, id);

-- One node at a time delivers to a destination, so its rate limit holds gateway-wide.
CREATE TABLE destination_owners (
    destination_id TEXT PRIMARY KEY,
    node           TEXT NOT NULL,
    until          BIGINT NOT NULL
);
