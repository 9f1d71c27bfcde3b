-- Which node leased a request for routing, so a restarted node can release its own leases.
ALTER TABLE requests ADD COLUMN routing_by TEXT;
