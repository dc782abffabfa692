#!/usr/bin/env bash
# Backs up the file audit store (AUDIT_LOG_DIR: audit.jsonl and its rotations audit.N.jsonl)
# into BACKUP_DIR/semibot-audit-<UTC time>.tar.gz with a .sha256 beside it, and keeps the
# newest KEEP backups (14 by default).
#
#   scripts/backup-audit-logs.sh [-d AUDIT_LOG_DIR] [-o BACKUP_DIR] [-k KEEP]
#
# Rotated files never change; audit.jsonl may be appended while it is read, so its last line
# can be cut short in the copy: the file store skips a torn last line when it reads (it is the
# event that had not been acknowledged yet), and the next backup holds it whole.
set -euo pipefail

AUDIT_DIR="${AUDIT_LOG_DIR:-/var/lib/semibot-runtime/audit}"
BACKUP_DIR="${BACKUP_DIR:-/var/backups/semibot-runtime}"
KEEP="${KEEP:-14}"

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while getopts "d:o:k:h" opt; do
  case "$opt" in
    d) AUDIT_DIR="$OPTARG" ;;
    o) BACKUP_DIR="$OPTARG" ;;
    k) KEEP="$OPTARG" ;;
    *) usage ;;
  esac
done

[[ -d "$AUDIT_DIR" ]] || { echo "backup: audit directory $AUDIT_DIR does not exist" >&2; exit 1; }
[[ "$KEEP" =~ ^[1-9][0-9]*$ ]] || { echo "backup: KEEP must be a positive number, got $KEEP" >&2; exit 2; }
shopt -s nullglob
files=("$AUDIT_DIR"/audit.jsonl "$AUDIT_DIR"/audit.[0-9]*.jsonl)
(( ${#files[@]} > 0 )) || { echo "backup: no audit*.jsonl files in $AUDIT_DIR" >&2; exit 1; }

mkdir -p "$BACKUP_DIR"
name="semibot-audit-$(date -u +%Y%m%dT%H%M%SZ)"
archive="$BACKUP_DIR/$name.tar.gz"
tmp="$(mktemp "$BACKUP_DIR/.$name.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# Paths inside the archive are bare file names, so a restore can go anywhere.
tar -C "$AUDIT_DIR" -czf "$tmp" "${files[@]##*/}"
mv "$tmp" "$archive"
(cd "$BACKUP_DIR" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "backup: ${#files[@]} file(s) from $AUDIT_DIR -> $archive"

# Keep the newest KEEP archives (names sort by time).
mapfile -t old < <(ls -1 "$BACKUP_DIR"/semibot-audit-*.tar.gz | sort | head -n -"$KEEP")
for f in "${old[@]}"; do rm -f "$f" "$f.sha256"; echo "backup: removed old $f"; done
