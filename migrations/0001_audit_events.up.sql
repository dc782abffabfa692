-- The audit trail: every field of the SPEC, monthly range partitions on "timestamp".
--
-- Columns beyond the SPEC's fields, all needed to read back exactly the event that was hashed:
--   timestamp_text  the event's own timestamp text when it is not the canonical
--                   toISOString() form (e.g. microseconds); NULL in the usual case
--   escaped         true when a string of the row was escaped because PostgreSQL cannot hold it
--                   (NUL, U+E000, lone surrogates); see src/audit/stores/postgres/encode.ts
--   key_id, sealed  with audit encryption on: action_params and metadata, AES-256-GCM sealed
--                   under key key_id (the plain jsonb columns are then NULL)
--
-- A unique key on a partitioned table must contain the partition column, so the primary key
-- is (event_id, "timestamp"). A retried or replayed event carries its original timestamp, so
-- it always hits this key: replays never duplicate (see the staging path in postgres-copy.ts).
CREATE TABLE audit_events (
  event_id           uuid             NOT NULL,
  event_type         text             NOT NULL,
  "timestamp"        timestamptz      NOT NULL,
  org_id             text             NOT NULL,
  user_id            text             NOT NULL,
  agent_id           text             NOT NULL,
  -- "C" collation: byte order, the order the query API promises (and cheaper to index)
  session_id         text COLLATE "C" NOT NULL,
  severity           text             NOT NULL,
  message            text             NOT NULL,
  action_id          text,
  action_name        text,
  action_params      jsonb,
  capability_type    text,
  capability_source  text,
  capability_version text,
  mcp_server_id      text,
  mcp_server_name    text,
  success            boolean,
  error_message      text,
  duration_ms        double precision,
  requires_approval  boolean,
  approval_granted   boolean,
  metadata           jsonb,
  seq                integer          NOT NULL,
  prev_hash          text             NOT NULL,
  hash               text             NOT NULL,
  timestamp_text     text,
  escaped            boolean          NOT NULL DEFAULT false,
  key_id             text,
  sealed             bytea,
  PRIMARY KEY (event_id, "timestamp")
) PARTITION BY RANGE ("timestamp");

-- The deployment guide's indexes (created on the parent, so every partition gets them).
CREATE INDEX idx_audit_events_session_id ON audit_events (session_id, seq);
CREATE INDEX idx_audit_events_org_id ON audit_events (org_id, "timestamp");
CREATE INDEX idx_audit_events_timestamp ON audit_events ("timestamp");
CREATE INDEX idx_audit_events_event_type ON audit_events (event_type, "timestamp");

-- Creates the monthly partitions covering [from, from + months): audit_events_yYYYYmMM.
-- SECURITY DEFINER so the writer role can add a month without owning the table.
CREATE FUNCTION audit_ensure_partitions(from_ts timestamptz, months integer DEFAULT 1)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
  first_month timestamp := date_trunc('month', from_ts AT TIME ZONE 'UTC');
  lower_bound timestamp;
  upper_bound timestamp;
  part_name text;
  created integer := 0;
BEGIN
  -- Two writers adding the same month at once: serialise instead of failing on the catalog.
  PERFORM pg_advisory_xact_lock(hashtext('semibot_audit_partitions'));
  FOR i IN 0 .. greatest(months, 1) - 1 LOOP
    lower_bound := first_month + make_interval(months => i);
    upper_bound := lower_bound + interval '1 month';
    part_name := format('audit_events_y%sm%s', to_char(lower_bound, 'YYYY'), to_char(lower_bound, 'MM'));
    IF to_regclass(part_name) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
        part_name, lower_bound AT TIME ZONE 'UTC', upper_bound AT TIME ZONE 'UTC');
      created := created + 1;
    END IF;
  END LOOP;
  RETURN created;
END;
$$;

-- Retention: drops every partition entirely older than the cutoff (cheap, no dead tuples) and
-- deletes the older rows of the one partition that straddles it. Returns the rows removed.
CREATE FUNCTION audit_apply_retention(cutoff timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
  part record;
  lower_bound timestamptz;
  upper_bound timestamptz;
  n bigint;
  removed bigint := 0;
BEGIN
  FOR part IN
    SELECT c.relname
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'audit_events'::regclass AND c.relname ~ '^audit_events_y[0-9]{4}m[0-9]{2}$'
    ORDER BY c.relname
  LOOP
    lower_bound := make_timestamptz(substr(part.relname, 15, 4)::int, substr(part.relname, 20, 2)::int, 1, 0, 0, 0, 'UTC');
    upper_bound := lower_bound + interval '1 month';
    IF upper_bound <= cutoff THEN
      EXECUTE format('SELECT count(*) FROM %I', part.relname) INTO n;
      EXECUTE format('DROP TABLE %I', part.relname);
      removed := removed + n;
    ELSIF lower_bound < cutoff THEN
      EXECUTE format('DELETE FROM %I WHERE "timestamp" < $1', part.relname) USING cutoff;
      GET DIAGNOSTICS n = ROW_COUNT;
      removed := removed + n;
    END IF;
  END LOOP;
  RETURN removed;
END;
$$;

-- Nobody but the owner and the roles granted in 0002 may run these.
REVOKE ALL ON FUNCTION audit_ensure_partitions(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_apply_retention(timestamptz) FROM PUBLIC;

-- This month and the next two exist from the start; writers add later months as they come.
SELECT audit_ensure_partitions(now(), 3);
