# shellcheck shell=bash
# The production configuration on this machine, for `make prod`, `make loadtest` and
# `make backup`. Sourced after lib.sh, not run.
#
# PostgreSQL and Redis listen on 127.0.0.1 only, with their data under $PROD_DIR (kept
# across restarts); the Django processes get everything from the environment, as on a
# real deployment, with DJANGO_SETTINGS_MODULE=project.settings.production.
#
# Override with the environment: PROD_DIR, PROD_PG_PORT, PROD_REDIS_PORT, PROD_BIND,
# WEB_WORKERS, CELERY_CONCURRENCY.

PROD_DIR="${PROD_DIR:-$ROOT/var/prod}"
PROD_PG_PORT="${PROD_PG_PORT:-55433}"
PROD_REDIS_PORT="${PROD_REDIS_PORT:-56380}"
PROD_BIND="${PROD_BIND:-127.0.0.1:8001}"
WEB_WORKERS="${WEB_WORKERS:-4}"
CELERY_CONCURRENCY="${CELERY_CONCURRENCY:-2}"

PROD_PIDS=()          # gunicorn, celery worker, celery beat (started by prod_start_app)
PROD_NAMES=()
PROD_PG_STARTED=""    # set when we started PostgreSQL (and so stop it)
PROD_REDIS_STARTED="" # set when we started Redis

# shellcheck disable=SC2012 # the version directories are plain numbers
pg_bindir() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

# Run a PostgreSQL server binary as the postgres user when we are root (initdb refuses root).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Start PostgreSQL and Redis on 127.0.0.1 with their data under $PROD_DIR (created on the
# first run), and create the database `points` if it is missing.
prod_start_services() {
  local pgbin
  pgbin="$(pg_bindir)"
  mkdir -p "$PROD_DIR/log" "$PROD_DIR/redis"
  chmod 755 "$PROD_DIR"
  if [ ! -f "$PROD_DIR/pg/PG_VERSION" ]; then
    say "initialising PostgreSQL in $PROD_DIR/pg"
    mkdir -p "$PROD_DIR/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres "$PROD_DIR/pg"
    chmod 700 "$PROD_DIR/pg"
    # Trust on the loopback only (this machine's own users); see the README for a server.
    as_postgres "$pgbin/initdb" -D "$PROD_DIR/pg" -U postgres -A trust -E UTF8 \
      --locale=C.UTF-8 >/dev/null
  fi
  [ "$(id -u)" -eq 0 ] && chown postgres "$PROD_DIR/log"
  if as_postgres "$pgbin/pg_ctl" -D "$PROD_DIR/pg" status >/dev/null 2>&1; then
    echo "PostgreSQL of $PROD_DIR is already running: is another 'make prod' up?" >&2
    return 1
  fi
  say "starting PostgreSQL on 127.0.0.1:$PROD_PG_PORT and Redis on 127.0.0.1:$PROD_REDIS_PORT"
  as_postgres "$pgbin/pg_ctl" -D "$PROD_DIR/pg" -l "$PROD_DIR/log/postgresql.log" -w -o \
    "-p $PROD_PG_PORT -k $PROD_DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=100" \
    start >/dev/null
  PROD_PG_STARTED=1
  if redis-cli -p "$PROD_REDIS_PORT" ping >/dev/null 2>&1; then
    echo "something already answers on 127.0.0.1:$PROD_REDIS_PORT" >&2
    return 1
  fi
  redis-server --port "$PROD_REDIS_PORT" --bind 127.0.0.1 --dir "$PROD_DIR/redis" \
    --appendonly yes --daemonize yes --pidfile "$PROD_DIR/redis/redis.pid" \
    --logfile "$PROD_DIR/log/redis.log"
  PROD_REDIS_STARTED=1
  for _ in $(seq 50); do
    redis-cli -p "$PROD_REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! "$pgbin/psql" -h 127.0.0.1 -p "$PROD_PG_PORT" -U postgres -tAc \
    "select 1 from pg_database where datname = 'points'" | grep -q 1; then
    "$pgbin/createdb" -h 127.0.0.1 -p "$PROD_PG_PORT" -U postgres points
  fi
}

# The production environment: what project.settings.production reads.
prod_env() {
  if [ ! -s "$PROD_DIR/secret" ]; then
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(64))' >"$PROD_DIR/secret")
  fi
  export DJANGO_SETTINGS_MODULE=project.settings.production
  SECRET_KEY="$(cat "$PROD_DIR/secret")"
  export SECRET_KEY
  export ALLOWED_HOSTS="${ALLOWED_HOSTS:-127.0.0.1,localhost}"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PROD_PG_PORT/points"
  export DB_CONN_MAX_AGE="${DB_CONN_MAX_AGE:-60}"
  export REDIS_URL="redis://127.0.0.1:$PROD_REDIS_PORT/1"           # cache, throttles
  export CELERY_BROKER_URL="redis://127.0.0.1:$PROD_REDIS_PORT/0"   # the task queue
  export STATIC_ROOT="$PROD_DIR/static"
  export MEDIA_ROOT="$PROD_DIR/media"
  # Plain HTTP on the loopback: no redirect to https, no HSTS. The cookie switches take
  # effect once production.py reads them (it sets both cookies Secure unconditionally).
  export SECURE_SSL_REDIRECT=0
  export SECURE_HSTS_SECONDS=0
  export SESSION_COOKIE_SECURE=0
  export CSRF_COOKIE_SECURE=0
}

# What collectstatic's output depends on: our static files and the installed packages.
static_fingerprint() {
  {
    find "$ROOT/points/static" "$ROOT/flows/static" -type f -printf '%P %s %T@\n' 2>/dev/null | sort
    stat -c '%Y' "$VENV/.installed" 2>/dev/null
  } | sha1sum | cut -d' ' -f1
}

# migrate, collectstatic (skipped when nothing it reads changed: compressing every file
# takes minutes here) and the demo data. All three are idempotent.
prod_prepare() {
  say "migrate, collectstatic, seed_demo"
  "$PY" manage.py migrate --noinput -v0
  local stamp="$STATIC_ROOT/.fingerprint" fingerprint
  fingerprint="$(static_fingerprint)"
  if [ ! -f "$STATIC_ROOT/staticfiles.json" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$fingerprint" ]; then
    "$PY" manage.py collectstatic --noinput -v0
    echo "$fingerprint" >"$stamp"
  fi
  "$PY" manage.py seed_demo
}

# gunicorn, a Celery worker and Celery beat in the background; their logs under $PROD_DIR/log.
prod_start_app() {
  local log="$PROD_DIR/log"
  say "starting gunicorn ($WEB_WORKERS workers) on http://$PROD_BIND/, a Celery worker and beat"
  "$VENV/bin/gunicorn" project.wsgi:application --workers "$WEB_WORKERS" --bind "$PROD_BIND" \
    --access-logfile "$log/access.log" \
    --access-logformat '%(h)s "%(r)s" %(s)s %(b)s %(M)s' \
    --error-logfile "$log/gunicorn.log" --capture-output --timeout 60 --graceful-timeout 20 &
  PROD_PIDS+=("$!") && PROD_NAMES+=(gunicorn)
  "$VENV/bin/celery" -A project worker --loglevel INFO --concurrency "$CELERY_CONCURRENCY" \
    --hostname "worker@%h" --logfile "$log/celery-worker.log" &
  PROD_PIDS+=("$!") && PROD_NAMES+=("celery worker")
  # beat: exactly one per installation (the schedule lives in the database).
  "$VENV/bin/celery" -A project beat --loglevel INFO --pidfile "$PROD_DIR/celerybeat.pid" \
    --logfile "$log/celery-beat.log" &
  PROD_PIDS+=("$!") && PROD_NAMES+=("celery beat")
}

# Wait until the web answers the login page (or a started process died).
prod_wait_ready() {
  local url="http://$PROD_BIND/accounts/login/"
  for _ in $(seq 120); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then
      say "ready: http://$PROD_BIND/"
      return 0
    fi
    for i in "${!PROD_PIDS[@]}"; do
      if ! kill -0 "${PROD_PIDS[$i]}" 2>/dev/null; then
        echo "${PROD_NAMES[$i]} exited while starting; see $PROD_DIR/log/" >&2
        return 1
      fi
    done
    sleep 0.5
  done
  echo "no answer from $url after 60 s; see $PROD_DIR/log/" >&2
  return 1
}

# Stop what we started: the app processes (TERM: gunicorn finishes its requests, the
# Celery worker its tasks), then Redis (saving) and PostgreSQL (fast: rolls back sessions).
prod_stop() {
  local pid i
  if [ ${#PROD_PIDS[@]} -gt 0 ]; then
    say "stopping gunicorn, Celery worker and beat"
    for pid in "${PROD_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for i in $(seq 60); do
      local alive=0
      for pid in "${PROD_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" -eq 0 ] && break
      [ "$i" -eq 60 ] && for pid in "${PROD_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
      sleep 0.5
    done
    for pid in "${PROD_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PROD_PIDS=()
    PROD_NAMES=()
  fi
  if [ -n "$PROD_REDIS_STARTED" ]; then
    say "stopping Redis and PostgreSQL"
    redis-cli -p "$PROD_REDIS_PORT" shutdown save >/dev/null 2>&1 || true
    PROD_REDIS_STARTED=""
  fi
  if [ -n "$PROD_PG_STARTED" ]; then
    as_postgres "$(pg_bindir)/pg_ctl" -D "$PROD_DIR/pg" -m fast -w stop >/dev/null 2>&1 || true
    PROD_PG_STARTED=""
  fi
}
