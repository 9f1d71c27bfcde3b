-- Rules: transformations and their executions, deduplication keys, transformed event data.

CREATE TABLE transformations (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    code       TEXT NOT NULL,
    env        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT transformations_name UNIQUE (project_id, name)
);
CREATE INDEX transformations_list ON transformations(project_id, created_at, id);

CREATE TABLE transformation_executions (
    id                TEXT PRIMARY KEY,
    project_id        TEXT NOT NULL,
    transformation_id TEXT NOT NULL,
    connection_id     TEXT,
    request_id        TEXT,
    log_level         TEXT NOT NULL,
    logs              TEXT NOT NULL,
    error             TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX executions_list ON transformation_executions(project_id, transformation_id, created_at, id);

CREATE TABLE dedup_keys (
    connection_id TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, key)
);

CREATE TABLE event_data (
    event_id TEXT PRIMARY KEY,
    data     TEXT NOT NULL
);
