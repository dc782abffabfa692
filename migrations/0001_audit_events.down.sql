DROP FUNCTION IF EXISTS audit_apply_retention(timestamptz);
DROP FUNCTION IF EXISTS audit_ensure_partitions(timestamptz, integer);
-- Dropping the parent drops every partition with it.
DROP TABLE IF EXISTS audit_events;
