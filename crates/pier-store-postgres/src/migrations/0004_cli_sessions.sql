-- CLI sessions (pier listen / the Hookdeck CLI): which connections they receive, which node
-- holds their websocket.
CREATE TABLE cli_sessions (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    webhook_ids TEXT NOT NULL,
    node        TEXT,
    seen_at     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX cli_sessions_project ON cli_sessions(project_id);
