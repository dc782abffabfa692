DROP POLICY IF EXISTS audit_events_reader_org ON audit_events;
ALTER TABLE audit_events DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON audit_events FROM semibot_audit_writer, semibot_audit_reader, semibot_audit_retention;
REVOKE ALL ON FUNCTION audit_ensure_partitions(timestamptz, integer) FROM semibot_audit_writer;
REVOKE ALL ON FUNCTION audit_apply_retention(timestamptz) FROM semibot_audit_retention;
DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON SCHEMA %I FROM semibot_audit_writer, semibot_audit_reader, semibot_audit_retention',
                 current_schema());
END
$$;
-- The roles are cluster-wide: drop them only when no other database still grants them anything.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['semibot_audit_writer', 'semibot_audit_reader', 'semibot_audit_retention'] LOOP
    BEGIN
      EXECUTE format('DROP ROLE IF EXISTS %I', r);
    EXCEPTION WHEN dependent_objects_still_exist THEN
      RAISE NOTICE 'role % is still used elsewhere in the cluster; kept', r;
    END;
  END LOOP;
END
$$;
