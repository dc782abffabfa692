#!/usr/bin/env bash
# Restores a backup made by backup-audit-logs.sh into an audit directory.
#
#   scripts/restore-audit-logs.sh [--force] ARCHIVE.tar.gz TARGET_DIR
#
# Checks the archive against its .sha256 (refuses a damaged one), refuses to overwrite audit
# files already in TARGET_DIR unless --force, extracts into a temporary directory first and
# then moves the files in, so a failed restore leaves the target as it was.
# Stop the daemon first (systemctl stop semibot-runtime), then run `semibot-runtime audit verify`.
set -euo pipefail

force=0
if [[ "${1:-}" == "--force" ]]; then force=1; shift; fi
[[ $# -eq 2 ]] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
archive="$1"
target="$2"

[[ -f "$archive" ]] || { echo "restore: no archive $archive" >&2; exit 1; }
if [[ -f "$archive.sha256" ]]; then
  expected="$(cut -d' ' -f1 "$archive.sha256")"
  actual="$(sha256sum "$archive" | cut -d' ' -f1)"
  [[ "$expected" == "$actual" ]] || { echo "restore: $archive does not match its .sha256 (damaged?)" >&2; exit 1; }
else
  echo "restore: warning: no $archive.sha256 to check against" >&2
fi

# Only plain audit file names, never paths (no ../ or absolute members).
while IFS= read -r member; do
  [[ "$member" =~ ^audit(\.[1-9][0-9]*)?\.jsonl$ ]] || { echo "restore: unexpected member $member in $archive" >&2; exit 1; }
done < <(tar -tzf "$archive")

mkdir -p "$target"
shopt -s nullglob
existing=("$target"/audit*.jsonl)
if (( ${#existing[@]} > 0 && force == 0 )); then
  echo "restore: $target already holds ${#existing[@]} audit file(s); use --force to replace them" >&2
  exit 1
fi

staging="$(mktemp -d "$target/.restore.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
tar -C "$staging" -xzf "$archive"
rm -f "${existing[@]}"
restored=0
for f in "$staging"/audit*.jsonl; do mv "$f" "$target/"; restored=$((restored + 1)); done
echo "restore: $restored file(s) from $archive -> $target"
