# Shared helpers for the Makefile targets. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

RUN_DEBS=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-zenhei)
TEST_DEBS=("${RUN_DEBS[@]}" postgresql redis-server chromium poppler-utils)

say() { printf '\n==> %s\n' "$*"; }

# Install the Debian packages that are missing (needs root, or sudo).
ensure_debs() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then missing+=(python3-venv); fi
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Create .venv and install the project with its dev extras when pyproject.toml changed.
ensure_venv() {
  if [ ! -x "$PY" ]; then
    say "creating $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    say "installing Python packages"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -e "$ROOT[dev]"
    touch "$stamp"
  fi
}

# pytest, with "no tests collected" (exit 5) counted as a failure.
run_pytest() {
  local rc=0
  # Two workers (pytest-xdist) on these 2-core machines; PYTEST_WORKERS=0 runs serially.
  "$PY" -m pytest -n "${PYTEST_WORKERS:-2}" --durations=15 "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    return 1
  fi
  return "$rc"
}

# A throwaway PostgreSQL and Redis on 127.0.0.1, stopped by stop_services.
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
SERVICES_DIR=""

start_services() {
  local pgbin
  pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  SERVICES_DIR="$(mktemp -d /tmp/points-services.XXXXXX)"
  chmod 755 "$SERVICES_DIR"
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$SERVICES_DIR"
    as=(runuser -u postgres --)
  fi
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT"
  "${as[@]}" "$pgbin/initdb" -D "$SERVICES_DIR/pg" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  # Tests trade durability for speed; PG_DURABLE=1 keeps PostgreSQL's defaults (each
  # commit flushed to disk), as a production server runs, for ``manage.py bench``.
  local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${PG_DURABLE:-0}" = 1 ] && durability=""
  "${as[@]}" "$pgbin/pg_ctl" -D "$SERVICES_DIR/pg" -l "$SERVICES_DIR/pg.log" -w -o \
    "-p $PG_PORT -k $SERVICES_DIR -c listen_addresses=127.0.0.1 $durability -c max_connections=200" \
    start >/dev/null
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --dir "$SERVICES_DIR" --pidfile "$SERVICES_DIR/redis.pid" \
    --logfile "$SERVICES_DIR/redis.log"
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$pgbin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres points
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/points"
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

stop_services() {
  [ -n "$SERVICES_DIR" ] || return 0
  say "stopping PostgreSQL and Redis"
  local pgbin as=()
  pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$pgbin/pg_ctl" -D "$SERVICES_DIR/pg" -m immediate stop >/dev/null 2>&1 || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$SERVICES_DIR"
  SERVICES_DIR=""
}
