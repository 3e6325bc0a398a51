# The two commands: `make run` (the whole platform with a CPO simulator) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-slow test-faults test-load lint fmt bench worker worker-sync worker-billing worker-pushes worker-default beat lock clean

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

## make run: migrate, demo data and user, then serve on http://127.0.0.1:8000 with a live CPO simulator
run: export DEBUG ?= true
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py rundemo

## make test: the whole suite (SQLite and in-process tasks unless DATABASE_URL / CELERY_BROKER_URL are set),
## without the fault and load tests: those start and kill processes, and need PostgreSQL and Redis.
test: $(STAMP)
	$(BIN)/python -m pytest -m "not faults and not load" $(PYTEST_ARGS)

## make test-slow: the property-based fuzz tests (every OCPI endpoint, the driver API's schema) with twelve times
## the examples `make test` runs (FUZZ_PROFILE=slow, tests/fuzzing.py; CI runs it). FUZZ_PROFILE=deep for more.
test-slow: $(STAMP)
	FUZZ_PROFILE=slow $(BIN)/python -m pytest --timeout=3600 tests/roaming/test_ocpi_fuzz.py tests/api/test_schema_fuzz.py $(PYTEST_ARGS)

## make test-faults: Redis, PostgreSQL (a private cluster), Celery workers and the CPO killed or slowed under
## traffic (tests/faults; PostgreSQL DATABASE_URL and a Redis CELERY_BROKER_URL needed; see docs/reliability.md)
test-faults: $(STAMP)
	$(BIN)/python -m pytest -m faults tests/faults $(PYTEST_ARGS)

## make test-load: 100,000 EVSE status PATCHes and 20,000 CDR POSTs through gunicorn (LOAD_EVSE_UPDATES, LOAD_CDRS)
test-load: $(STAMP)
	$(BIN)/python -m pytest -m load tests/load $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -q -r .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=emsp.settings_test
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --settings=emsp.settings_test --file /dev/null

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## make worker: one worker for every queue (development). In production a worker per queue, as docker-compose.yml:
## make worker QUEUES=sync CONCURRENCY=1, or the shortcuts make worker-sync / worker-billing / worker-pushes / worker-default
QUEUES      ?= sync,billing,pushes,default
CONCURRENCY ?= 2
worker: $(STAMP)
	$(BIN)/celery -A emsp worker --loglevel=INFO -Q $(QUEUES) --concurrency=$(CONCURRENCY) -n $(subst $(comma),-,$(QUEUES))@%h

comma := ,
worker-sync:
	$(MAKE) worker QUEUES=sync CONCURRENCY=1
worker-billing worker-pushes worker-default:
	$(MAKE) worker QUEUES=$(@:worker-%=%)

beat: $(STAMP)
	$(BIN)/celery -A emsp beat --loglevel=INFO

## make lock: re-resolve requirements.lock from pyproject.toml
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles .pytest_cache .mypy_cache .ruff_cache
