-- Least-privilege roles (NOLOGIN groups: grant them to the login roles you deploy with).
--   semibot_audit_writer     INSERT only (COPY and the replay's INSERT ... ON CONFLICT DO NOTHING),
--                            may add monthly partitions; BYPASSRLS because PostgreSQL refuses
--                            COPY FROM into a table with row-level security otherwise
--   semibot_audit_reader     SELECT, and only the rows of the org named by the session setting
--                            semibot.org_id (row-level security); no org set → no rows
--   semibot_audit_retention  may only run audit_apply_retention() (drops whole old partitions)
-- Roles belong to the whole cluster, so creating them is idempotent (several databases, one
-- cluster). Creating a BYPASSRLS role needs a superuser: run migrations as one, or create the
-- roles beforehand with sql/audit-roles.sql.
DO $$
DECLARE
  spec text[];
BEGIN
  FOREACH spec SLICE 1 IN ARRAY ARRAY[
    ['semibot_audit_writer', 'NOLOGIN BYPASSRLS'],
    ['semibot_audit_reader', 'NOLOGIN'],
    ['semibot_audit_retention', 'NOLOGIN']
  ] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = spec[1]) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I %s', spec[1], spec[2]);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- another database of this cluster created it at the same moment
      END;
    END IF;
  END LOOP;
END
$$;

DO $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO semibot_audit_writer, semibot_audit_reader, semibot_audit_retention',
                 current_schema());
END
$$;

GRANT INSERT ON audit_events TO semibot_audit_writer;
GRANT EXECUTE ON FUNCTION audit_ensure_partitions(timestamptz, integer) TO semibot_audit_writer;

GRANT SELECT ON audit_events TO semibot_audit_reader;
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_events_reader_org ON audit_events
  FOR SELECT TO semibot_audit_reader
  USING (org_id = current_setting('semibot.org_id', true));

GRANT EXECUTE ON FUNCTION audit_apply_retention(timestamptz) TO semibot_audit_retention;
