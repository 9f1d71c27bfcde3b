-- Delivery: leases on events, the trigger of the next attempt, attempts, signing secret rotation.

ALTER TABLE events ADD COLUMN locked_until INTEGER;
ALTER TABLE events ADD COLUMN locked_by TEXT;
ALTER TABLE events ADD COLUMN next_trigger TEXT;

-- Deliverable events: a due time and not on hold.
CREATE INDEX events_due ON events(destination_id, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL AND status <> 'HOLD';
CREATE INDEX events_connection_status ON events(connection_id, status);

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    destination_id   TEXT NOT NULL,
    attempt_number   INTEGER NOT NULL,
    trigger          TEXT NOT NULL,
    successful       INTEGER NOT NULL,
    response_status  INTEGER,
    error_code       TEXT,
    body             TEXT,
    requested_url    TEXT,
    http_method      TEXT,
    delivered_at     INTEGER,
    responded_at     INTEGER,
    delivery_latency INTEGER,
    response_latency INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX attempts_event ON attempts(event_id, created_at);
CREATE INDEX attempts_list ON attempts(project_id, created_at, id);

ALTER TABLE projects ADD COLUMN previous_signing_secret TEXT;
ALTER TABLE projects ADD COLUMN previous_signing_secret_expires_at INTEGER;
