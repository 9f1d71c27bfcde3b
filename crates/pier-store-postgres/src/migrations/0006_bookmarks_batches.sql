-- Bookmarks (saved requests replayed on a connection) and batch operations (bulk retries).
CREATE TABLE bookmarks (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    label         TEXT NOT NULL,
    name          TEXT,
    last_used_at  BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX bookmarks_name ON bookmarks(project_id, name);
CREATE INDEX bookmarks_list ON bookmarks(project_id, created_at, id);

CREATE TABLE batch_operations (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    query           TEXT NOT NULL,
    cursor          TEXT,
    estimated_count BIGINT NOT NULL,
    processed_batch BIGINT NOT NULL,
    completed_count BIGINT NOT NULL,
    failed_count    BIGINT NOT NULL,
    cancelled_at    BIGINT,
    completed_at    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX batch_operations_list ON batch_operations(project_id, created_at, id);
