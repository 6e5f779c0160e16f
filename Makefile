# Outcry: `make run` serves the app with everything embedded; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
checksum = $(shell cat $(1) | cksum | cut -d' ' -f1)
# One stamp per set of requirements, so each command installs only what it needs: `make run` what running needs
# (requirements.txt, all the container image gets too), `make mailserver` adds the local mail server's two
# packages, `make test` (and lint, format, bench) the test tools.
RUN_STAMP := $(VENV)/.installed-run-$(call checksum,requirements.txt)
MAIL_STAMP := $(VENV)/.installed-mail-$(call checksum,requirements.txt requirements-mailserver.txt)
DEV_STAMP := $(VENV)/.installed-dev-$(call checksum,requirements.txt requirements-mailserver.txt requirements-dev.txt)

.PHONY: run mailserver test lint format bench clean translations translations-extract translations-update translations-compile

# $(1): the pip -r arguments; $(2): the stamp's kind, whose older stamps go.
define install
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Outcry needs Python 3.11 or newer" or 0)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(1)
	@rm -f $(VENV)/.installed-$(2)-* && touch $@
endef

$(RUN_STAMP): requirements.txt
	$(call install,requirements.txt,run)

$(MAIL_STAMP): requirements.txt requirements-mailserver.txt
	$(call install,requirements.txt -r requirements-mailserver.txt,mail)

$(DEV_STAMP): requirements.txt requirements-mailserver.txt requirements-dev.txt
	$(call install,requirements-dev.txt,dev)

run: $(RUN_STAMP)
	$(BIN)/python -m webapp.devserver

# A mail server on localhost:2525 (STARTTLS, a password) for trying own-email sending; `make run` trusts it.
mailserver: $(MAIL_STAMP)
	$(BIN)/python -m webapp.devmail

test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every benchmark stage against its baseline in one run (bench/README.md); BENCH_ARGS passes options.
bench: $(DEV_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Style, dead code (vulture: pyproject.toml and vulture_allowlist.py) and the import direction (import-linter's
# contracts in pyproject.toml).
lint: $(DEV_STAMP)
	$(BIN)/ruff check webapp tasks tests migrations bench
	$(BIN)/ruff format --check webapp tasks tests migrations bench
	$(BIN)/vulture
	$(BIN)/lint-imports

format: $(DEV_STAMP)
	$(BIN)/ruff format webapp tasks tests migrations bench
	$(BIN)/ruff check --fix webapp tasks tests migrations bench

# Translations (webapp/translations, Flask-Babel): extract every marked string into messages.pot, merge it into each
# language's messages.po (new strings arrive untranslated, changed ones fuzzy: tests fail until someone translates
# them), and compile the .mo files the app reads. The compiled .mo files are committed, so a clean clone runs and
# tests without this step; tests/test_i18n.py fails when they are older than the .po files.
TRANSLATIONS := webapp/translations
BABEL_KEYWORDS := -k _l -k N_ -k lazy_gettext -k gettext -k ngettext:1,2 -k lazy_ngettext:1,2 -k gettext_in:2
translations: translations-extract translations-update translations-compile

translations-extract: $(RUN_STAMP)
	$(BIN)/pybabel --quiet extract -F babel.cfg $(BABEL_KEYWORDS) --no-wrap --sort-by-file --add-location=file \
	  --project=Outcry --msgid-bugs-address= --omit-header -o $(TRANSLATIONS)/messages.pot .

translations-update: $(RUN_STAMP)
	$(BIN)/pybabel --quiet update --no-wrap -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --ignore-obsolete

translations-compile: $(RUN_STAMP)
	$(BIN)/pybabel compile --statistics -d $(TRANSLATIONS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output
