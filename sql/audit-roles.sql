-- Least-privilege roles of the database audit store, for a DBA to run once per cluster as a
-- superuser when migrations themselves run as a non-superuser (creating a BYPASSRLS role needs
-- a superuser). Migration 0002 creates the same roles when they are missing and grants them
-- their privileges on audit_events; this script only creates the roles and the login roles
-- that use them. Replace the passwords before running it:
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/audit-roles.sql
--
--   semibot_audit_writer     INSERT only (COPY, replay's INSERT ... ON CONFLICT DO NOTHING) and
--                            audit_ensure_partitions(); BYPASSRLS because PostgreSQL refuses
--                            COPY FROM into a table with row-level security otherwise
--   semibot_audit_reader     SELECT, only rows whose org_id = current_setting('semibot.org_id')
--   semibot_audit_retention  EXECUTE audit_apply_retention() only (drops whole old partitions)

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'semibot_audit_writer') THEN
    CREATE ROLE semibot_audit_writer NOLOGIN BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'semibot_audit_reader') THEN
    CREATE ROLE semibot_audit_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'semibot_audit_retention') THEN
    CREATE ROLE semibot_audit_retention NOLOGIN;
  END IF;
END
$$;

-- Login roles. The runtime's audit thread writes; a tenant-facing reader sets its org first
-- (SELECT set_config('semibot.org_id', '<org>', true) inside its transaction) and sees only
-- that org; a cron job applies retention. `semibot-runtime audit verify` across every org is an
-- operator task: run it as the table owner (row-level security does not apply to the owner).
CREATE ROLE semibot_runtime LOGIN PASSWORD 'change-me' IN ROLE semibot_audit_writer;
CREATE ROLE semibot_api LOGIN PASSWORD 'change-me' IN ROLE semibot_audit_reader;
CREATE ROLE semibot_retention LOGIN PASSWORD 'change-me' IN ROLE semibot_audit_retention;
