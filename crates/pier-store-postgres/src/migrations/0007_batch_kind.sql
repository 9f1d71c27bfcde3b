-- Batch operations of several kinds: events, requests and ignored events retries.
ALTER TABLE batch_operations ADD COLUMN kind TEXT NOT NULL DEFAULT 'events.retry';
