# The two commands of the README. Both set up a fresh Debian 12 machine as needed.
.PHONY: run test

## Serve the demo on http://127.0.0.1:8000/ (SQLite, eager Celery, console e-mail).
run:
	bash .ci/serve

## ruff, mypy, makemigrations --check, and the whole suite on SQLite and on PostgreSQL.
test:
	bash .ci/test $(PYTEST_ARGS)
