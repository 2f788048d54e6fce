# The README's two set-up commands (run, test), and the production, load-test and backup commands.
.PHONY: run test prod loadtest backup restore

## Serve the demo on http://127.0.0.1:8000/ (SQLite, eager Celery, console e-mail).
run:
	bash .ci/serve

## ruff, mypy, makemigrations --check, and the whole suite on SQLite and on PostgreSQL.
test:
	bash .ci/test $(PYTEST_ARGS)

## The production configuration on this machine: PostgreSQL + Redis (data in var/prod/),
## gunicorn on http://127.0.0.1:8001/, Celery worker and beat. Ctrl-C stops it.
prod:
	bash .ci/prod

## A bounded load test (50 users, 3 minutes, 127.0.0.1 only) against a fresh production stack.
loadtest:
	bash .ci/loadtest

## Back up the database (make prod's PostgreSQL, or DATABASE_URL, or db.sqlite3) to var/backups/.
backup:
	bash .ci/backup dump $(if $(FILE),--out $(FILE))

## Restore a backup into a fresh database and verify its ledger: make restore FILE=...
restore:
	bash .ci/backup restore $(FILE)
