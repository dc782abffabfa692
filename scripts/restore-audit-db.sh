#!/usr/bin/env bash
# Restores a backup made by backup-audit-db.sh into the database named by DATABASE_URL.
#
#   scripts/restore-audit-db.sh [-d DATABASE_URL] BACKUP.sql.gz
#
# Checks the file against its .sha256 (refuses a damaged one) and refuses a database that
# already holds an audit store: create an empty one first (createdb), restore, then point
# DATABASE_URL at it. Runs in one transaction (psql --single-transaction, ON_ERROR_STOP), so
# a failed restore leaves the database empty. Stop the daemon first; afterwards run
# `semibot-runtime migrate status` and `semibot-runtime audit verify`.
set -euo pipefail

DB_URL="${DATABASE_URL:-}"
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while getopts "d:h" opt; do
  case "$opt" in
    d) DB_URL="$OPTARG" ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -eq 1 ]] || usage
backup="$1"
[[ -n "$DB_URL" ]] || { echo "restore-db: DATABASE_URL is not set (or pass -d)" >&2; exit 2; }
[[ -f "$backup" ]] || { echo "restore-db: no backup $backup" >&2; exit 1; }

if [[ -f "$backup.sha256" ]]; then
  expected="$(cut -d' ' -f1 "$backup.sha256")"
  actual="$(sha256sum "$backup" | cut -d' ' -f1)"
  [[ "$expected" == "$actual" ]] || { echo "restore-db: $backup does not match its .sha256 (damaged?)" >&2; exit 1; }
else
  echo "restore-db: warning: no $backup.sha256 to check against" >&2
fi
gzip -t "$backup" || { echo "restore-db: $backup is not a valid gzip file" >&2; exit 1; }

present="$(psql "$DB_URL" -XAtqc "SELECT to_regclass('audit_events') IS NOT NULL OR to_regclass('semibot_schema_migrations') IS NOT NULL" 2>&1)" \
  || { echo "restore-db: cannot connect: $present" >&2; exit 1; }
[[ "$present" == "f" ]] || { echo "restore-db: the target database already holds an audit store; restore into an empty database (createdb NAME)" >&2; exit 1; }

gunzip -c "$backup" | psql "$DB_URL" -X -q --single-transaction -v ON_ERROR_STOP=1 -o /dev/null
rows="$(psql "$DB_URL" -XAtqc 'SELECT count(*) FROM audit_events')"
level="$(psql "$DB_URL" -XAtqc 'SELECT coalesce(max(version), 0) FROM semibot_schema_migrations')"
echo "restore-db: $rows audit event(s), schema version $level, from $backup"
