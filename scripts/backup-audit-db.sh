#!/usr/bin/env bash
# Backs up the PostgreSQL audit store (the database named by DATABASE_URL: audit_events and
# its monthly partitions, semibot_schema_migrations, the audit functions, row-level security
# policies and grants) with pg_dump into BACKUP_DIR/semibot-auditdb-<UTC time>.sql.gz, with a
# .sha256 beside it, and keeps the newest KEEP backups (14 by default).
#
#   scripts/backup-audit-db.sh [-d DATABASE_URL] [-o BACKUP_DIR] [-k KEEP]
#
# pg_dump takes one consistent snapshot, so the daemon can keep writing meanwhile. The roles
# (semibot_audit_*) belong to the PostgreSQL cluster, not the database: a new server needs
# them first (sql/audit-roles.sql, or `semibot-runtime migrate up` on an empty database).
set -euo pipefail

DB_URL="${DATABASE_URL:-}"
BACKUP_DIR="${BACKUP_DIR:-/var/backups/semibot-runtime}"
KEEP="${KEEP:-14}"

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while getopts "d:o:k:h" opt; do
  case "$opt" in
    d) DB_URL="$OPTARG" ;;
    o) BACKUP_DIR="$OPTARG" ;;
    k) KEEP="$OPTARG" ;;
    *) usage ;;
  esac
done
[[ -n "$DB_URL" ]] || { echo "backup-db: DATABASE_URL is not set (or pass -d)" >&2; exit 2; }
[[ "$KEEP" =~ ^[1-9][0-9]*$ ]] || { echo "backup-db: KEEP must be a positive number, got $KEEP" >&2; exit 2; }
command -v pg_dump >/dev/null || { echo "backup-db: pg_dump is not installed (postgresql-client)" >&2; exit 1; }

# Refuse to back up a database that is not an audit store: the restore would be useless.
has_table="$(psql "$DB_URL" -XAtqc "SELECT to_regclass('semibot_schema_migrations') IS NOT NULL" 2>&1)" \
  || { echo "backup-db: cannot connect: $has_table" >&2; exit 1; }
[[ "$has_table" == "t" ]] || { echo "backup-db: the database has no semibot_schema_migrations table (run 'semibot-runtime migrate up' first?)" >&2; exit 1; }

mkdir -p "$BACKUP_DIR"
name="semibot-auditdb-$(date -u +%Y%m%dT%H%M%SZ)"
out="$BACKUP_DIR/$name.sql.gz"
tmp="$(mktemp "$BACKUP_DIR/.$name.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# Plain SQL so psql (and a DBA) can read it; the whole database, because the schema public of
# a fresh database already exists and a schema-only dump (-n public) would try to create it.
pg_dump --dbname="$DB_URL" --format=plain --no-password | gzip -6 > "$tmp"
mv "$tmp" "$out"
(cd "$BACKUP_DIR" && sha256sum "$name.sql.gz" > "$name.sql.gz.sha256")
level="$(psql "$DB_URL" -XAtqc 'SELECT coalesce(max(version), 0) FROM semibot_schema_migrations')"
echo "backup-db: schema version $level -> $out"

mapfile -t old < <(ls -1 "$BACKUP_DIR"/semibot-auditdb-*.sql.gz | sort | head -n -"$KEEP")
for f in "${old[@]}"; do rm -f "$f" "$f.sha256"; echo "backup-db: removed old $f"; done
