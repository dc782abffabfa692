DROP TABLE IF EXISTS audit_checkpoints;
