-- Signed checkpoints beside the events (issue 15): each certifies the heads (seq, hash) of the
-- sessions whose trails moved since the one before, chained by prev_hash, signed with
-- AUDIT_SIGNING_KEY. One row per checkpoint; the certified heads are a jsonb array.
CREATE TABLE audit_checkpoints (
  seq          bigint      PRIMARY KEY,
  created_at   timestamptz NOT NULL,
  prev_hash    text        NOT NULL,
  events_total bigint      NOT NULL,
  sessions     jsonb       NOT NULL,
  -- set by retention: events older than this were deleted on purpose
  retained_before text,
  key_id       text,
  alg          text        NOT NULL,
  hash         text        NOT NULL UNIQUE,
  signature    text
);

GRANT INSERT ON audit_checkpoints TO semibot_audit_writer;
GRANT SELECT ON audit_checkpoints TO semibot_audit_writer, semibot_audit_reader;
