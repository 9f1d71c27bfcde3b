-- Retention deletes a request's transformation runs with it.
CREATE INDEX transformation_executions_request ON transformation_executions(request_id);
