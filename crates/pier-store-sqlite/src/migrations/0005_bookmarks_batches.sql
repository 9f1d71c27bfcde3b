-- Bookmarks (saved requests replayed on a connection) and batch operations (bulk retries).
CREATE TABLE bookmarks (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    label         TEXT NOT NULL,
    name          TEXT,
    last_used_at  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX bookmarks_name ON bookmarks(project_id, name);
CREATE INDEX bookmarks_list ON bookmarks(project_id, created_at, id);

CREATE TABLE batch_operations (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    query           TEXT NOT NULL,
    cursor          TEXT,
    estimated_count INTEGER NOT NULL,
    processed_batch INTEGER NOT NULL,
    completed_count INTEGER NOT NULL,
    failed_count    INTEGER NOT NULL,
    cancelled_at    INTEGER,
    completed_at    INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX batch_operations_list ON batch_operations(project_id, created_at, id);
