# Jimeng Studio. `make demo` runs the studio; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev demo test security lint serve worker manage bench chaos clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# The browser's libraries from npm (package-lock.json pins them): htmx is served from
# static/vendor/; axe-core (a dev dependency) is read by the browser tests.
node_modules/.installed: package.json package-lock.json
	@tools/ensure-system-packages --only npm
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p static/vendor && cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	@touch $@

# The install step alone: virtualenv, runtime dependencies, compiled translations.
install: $(VENV)/.installed node_modules/.installed
	@$(PY) manage.py compilemessages --ignore '.venv/*' --verbosity 0 \
		|| echo "warning: msgfmt (Debian's gettext) is missing; the UI falls back to English"

install-dev: install $(VENV)/.installed-dev
	@tools/ensure-system-packages wrk

demo: install
	$(PY) manage.py demo --host $(HOST) --port $(PORT)

# Production mode: DEBUG off, gunicorn with whitenoise-served hashed and compressed
# static files, secure cookies. Settings come from the environment and ./.env; a
# SECRET_KEY and CREDENTIALS_KEYS are generated once into var/production.env.
# Locally it answers plain http on 127.0.0.1 (put your TLS proxy in front in
# production; it redirects http to https). The API emulator is off here: it takes
# anonymous traffic with published keys (SANDBOX_ENABLED=true turns it on, with a warning).
PROD_ENV = set -a; . "$$(PY=$(PY) tools/production-env)"; [ ! -f .env ] || . ./.env; set +a; \
	export DEBUG=false SECURE_SSL_REDIRECT=$${SECURE_SSL_REDIRECT:-false};
GUNICORN_WORKERS ?= 2

serve: install
	@$(PROD_ENV) $(PY) manage.py migrate --noinput -v0 && \
	$(PY) manage.py collectstatic --noinput -v0 && \
	$(PY) manage.py check --deploy && \
	exec $(BIN)/gunicorn jimeng_web.wsgi --bind $(HOST):$(PORT) --workers $(GUNICORN_WORKERS) \
		--access-logfile - --forwarded-allow-ips="127.0.0.1"

# One django-q2 worker cluster; start as many as you like, on any host sharing the
# database and broker.
worker: install
	@$(PROD_ENV) exec $(PY) manage.py qcluster

# Any management command with the production settings: make manage ARGS="createsuperuser"
manage: install
	@$(PROD_ENV) $(PY) manage.py $(ARGS)

# Workers killed, the emulator's connections dropped, the database away; then an audit.
ROUNDS ?= 50
chaos: install
	$(PY) bench/chaos.py --rounds $(ROUNDS)

# Benchmarks print their figures; bench/README.md keeps the latest with the machine.
# BENCH_STACK=pg runs them on PostgreSQL + Redis.
bench: install-dev
	$(PY) bench/run.py $(BENCH_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy generations jimeng_web sandbox


# One pytest worker per core (TEST_WORKERS=0 runs the suite in this process).
TEST_WORKERS ?= auto
test: install-dev lint
	$(BIN)/pytest --numprocesses=$(TEST_WORKERS) $(PYTEST_ARGS)

# The reproductions of attacks alone (make test runs them too).
security: install-dev
	$(BIN)/pytest -m security $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache tests/artifacts
