-- Events still to deliver or held, by connection (pause, unpause, cancel on delete). A partial
-- index: a delivered event leaves it, so delivery writes one index entry fewer per event than
-- the (connection_id, status) index it replaces. Queries use it through a term that matches
-- one of its own (`next_attempt_at IS NOT NULL`, `status = 'HOLD'`, or the whole condition).
DROP INDEX events_connection_status;
CREATE INDEX events_pending ON events(connection_id) WHERE next_attempt_at IS NOT NULL OR status = 'HOLD';
