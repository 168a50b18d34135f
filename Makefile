# scart: `make run` starts everything, `make test` runs the suite. Only Python 3.11 and make needed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

.PHONY: screenshots run test lint format migrate catalogue messages install secret-key bench bench-resolve bench-notices bench-workspace bench-checks bench-stats bench-search clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# `make run` is for a workstation: DEBUG on unless the environment says otherwise, and the
# confirmation links in notices (SCART_SITE_URL) point at the port it serves, not the default 8000.
DEV := DEBUG=$${DEBUG:-1} SCART_SITE_URL=$${SCART_SITE_URL:-http://127.0.0.1:$(PORT)}

# A random signing key for this workstation, written once and readable by its owner only. The
# settings read it when neither SECRET_KEY nor SECRET_KEY_FILE is set, so that every manage.py
# command works after `make run`, DEBUG or not. A deployment sets SECRET_KEY instead.
SECRET_KEY_PATH := $(or $(SCART_VAR_DIR),$(CURDIR)/var)/secret_key

$(SECRET_KEY_PATH):
	@mkdir -p $(@D)
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@.new && { mv -n $@.new $@; rm -f $@.new; test -s $@; }

secret-key: $(SECRET_KEY_PATH)

# The key that seals secrets at rest on this workstation (scart.sealing), written once the same
# way; a deployment sets SCART_FIELD_KEY instead.
FIELD_KEY_PATH := $(or $(SCART_VAR_DIR),$(CURDIR)/var)/field_key

$(FIELD_KEY_PATH):
	@mkdir -p $(@D)
	@umask 077 && $(PYTHON) -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())' > $@.new && { mv -n $@.new $@; rm -f $@.new; test -s $@; }

# The Dutch catalogue is compiled here (pure Python, no GNU gettext needed): .mo files are build output.
catalogue: install
	@$(DEV) $(BIN)/python manage.py compile_catalogue

# After changing a page's or a message's text: the Dutch catalogue gets the new strings (untranslated,
# so that tests/test_i18n.py fails until they are translated). Needs GNU gettext (xgettext, msgmerge).
messages: install
	@$(DEV) $(BIN)/python manage.py makemessages -l nl --no-obsolete --no-location --ignore='.venv' --ignore='.venv/*' \
		--ignore=var --ignore=tests --ignore=bench --ignore=devnet --ignore=docs --ignore=static --ignore=locale

migrate: install catalogue $(SECRET_KEY_PATH) $(FIELD_KEY_PATH)
	@$(DEV) $(BIN)/python manage.py migrate --noinput

# Web server, Celery worker and Celery beat together on http://127.0.0.1:$(PORT). With
# SCART_DEMO=1, also the demo's local DNS, RDAP and web peers (resolution and availability checks
# go to them, mail stays in var/mail/) and a few demo reports on reserved example domains: the
# whole flow without a packet leaving the machine.
PROCFILE := $(if $(filter 1 true yes,$(SCART_DEMO)),Procfile.demo,Procfile)

run: migrate
	@$(DEV) $(BIN)/python manage.py ensure_admin --url http://127.0.0.1:$(PORT)
	@echo "scart on http://127.0.0.1:$(PORT)/  (log in: /login/, admin: /admin/, report form: /report/, API docs: /api/docs/)"
	$(DEV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT) --procfile $(PROCFILE)

# On PostgreSQL (DATABASE_URL set, as in CI) the suite runs on two processes, each with its own
# test database; on the default SQLite file it runs in one, as SQLite takes one writer at a time.
PYTEST_ARGS ?= $(if $(DATABASE_URL),-n 2,)

test: install catalogue
	@bash tests/browser/ensure_chromium.sh
	@bash tests/ensure_gpg.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/intake.py

bench-resolve: install
	$(BIN)/python bench/resolve.py

bench-notices: install
	$(BIN)/python bench/notices.py

bench-workspace: install
	$(BIN)/python bench/workspace.py

bench-checks: install
	$(BIN)/python bench/checks.py

bench-stats: install
	$(BIN)/python bench/stats.py

bench-search: install
	$(BIN)/python bench/search.py

# Screenshots of the main pages (docs/screenshots/*.png) from the demo: run `SCART_DEMO=1 make run`
# first (same PORT), then this. devnet/screenshots.py lists the pages by URL name.
screenshots: install
	@bash tests/browser/ensure_chromium.sh
	$(DEV) $(BIN)/python -m devnet.screenshots --base http://127.0.0.1:$(PORT) --out docs/screenshots

clean:
	rm -rf var/test-broker var/cache var/test-check-slots .pytest_cache .mypy_cache .ruff_cache
