#!/usr/bin/env bash
# Credentials for the local compose stack (docker-compose.yml), generated here and nowhere else:
#
#   bash deploy/compose/make-env.sh            # writes <repo>/.env, the file compose reads
#   bash deploy/compose/make-env.sh PATH       # or another file
#
# Each variable gets 32 random hex characters (URL-safe: they also end up in connection
# settings). Variables already in the file are kept, so running it again changes nothing, and a
# file from an older version only gains the variables it lacks. The file is created mode 600;
# .gitignore and .dockerignore keep it out of commits and images. Postgres and MinIO read their
# passwords when they first initialise their data: to rotate one, remove the old containers and
# volumes (`docker compose down -v`, which deletes the stack's data) and the line, then run again.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
env_file="${1:-$repo/.env}"

# Every ${VAR:?...} that docker-compose.yml requires.
names=(POSTGRES_PASSWORD MINIO_ROOT_USER MINIO_ROOT_PASSWORD HOUSING_SERVING_API_KEY)

random_hex() {  # 16 bytes from the kernel's CSPRNG, as 32 hex characters
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

umask 077
touch "$env_file"
chmod 600 "$env_file"
added=()
for name in "${names[@]}"; do
  if ! grep -q "^${name}=" "$env_file"; then
    value="$(random_hex)"
    if [ "$name" = MINIO_ROOT_USER ]; then
      value="housing-${value:0:12}"
    fi
    # A file without a final newline must not glue the new line to its last one.
    if [ -s "$env_file" ] && [ -n "$(tail -c 1 "$env_file")" ]; then
      printf '\n' >>"$env_file"
    fi
    printf '%s=%s\n' "$name" "$value" >>"$env_file"
    added+=("$name")
  fi
done

if [ "${#added[@]}" -eq 0 ]; then
  echo "$env_file already has every credential; nothing changed."
else
  echo "wrote ${added[*]} to $env_file (mode 600)."
fi
