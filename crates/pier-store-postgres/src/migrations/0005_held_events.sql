-- Held events by connection (unpause, and the sweep of events held after an unpause).
CREATE INDEX events_held ON events(connection_id) WHERE status = 'HOLD';
