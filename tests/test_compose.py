"""The container stack: docker-compose.yml, the Dockerfile and .env.example name real entry points, wire the
services together, document every setting and keep secrets out; the dev profile's mail catcher is trusted."""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy.engine import make_url

from webapp import config as settings
from webapp.delivery import smtp, ssrf
from webapp.delivery.credentials import SmtpAccount

PROJECT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = PROJECT / "docker-compose.yml"
COMPOSE_TEXT = COMPOSE_FILE.read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict = COMPOSE["services"]
APP_SERVICES = ("migrate", "web", "worker", "scheduler")
LONG_RUNNING_APP_SERVICES = ("web", "worker", "scheduler")
SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD")
BIN = Path(sys.executable).parent


# ---- reading the files the way Compose does -------------------------------------------------------------------


class MissingVariable(LookupError):
    """A `${NAME:?message}` whose variable is unset or empty: Compose refuses to start."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: `$$`, `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
    `${NAME:?error}`, `${NAME?error}`, with nesting inside defaults."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            out.append(_substitute(text[i + 2 : end], env))
            i = end + 1
        elif match := re.match(r"\$([A-Za-z_]\w*)", text[i:]):
            out.append(env.get(match.group(1), ""))
            i += match.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text.startswith("${", j):
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"unclosed ${{ in {text!r}")


def _substitute(expression: str, env: Mapping[str, str]) -> str:
    match = re.fullmatch(r"([A-Za-z_]\w*)(?:(:?[-?])(.*))?", expression, re.DOTALL)
    assert match, f"Compose cannot read ${{{expression}}}"
    name, operator, argument = match.groups()
    value = env.get(name)
    if operator is None:
        return value or ""
    missing = value is None or (operator.startswith(":") and value == "")
    if not missing:
        return value
    if operator.endswith("-"):
        return interpolate(argument, env)
    raise MissingVariable(f"{name}: {interpolate(argument, env)}")


def resolve(node, env: Mapping[str, str]):
    """The compose file with every value interpolated, as `docker compose config` would show it."""
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, env) for value in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def read_env_file(path: Path) -> dict[str, tuple[str, list[str]]]:
    """KEY -> (value, the comment lines right above it)."""
    entries: dict[str, tuple[str, list[str]]] = {}
    comments: list[str] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            comments = []
        elif stripped.startswith("#"):
            comments.append(stripped.lstrip("# "))
        else:
            key, sep, value = stripped.partition("=")
            assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"{path.name}: not a KEY=value line: {line!r}"
            assert key not in entries, f"{path.name}: {key} is listed twice"
            entries[key] = (value, comments)
            comments = []
    return entries


ENV_EXAMPLE = read_env_file(PROJECT / ".env.example")
# What an operator's .env looks like once the two secrets are filled in.
FILLED_ENV = {key: value for key, (value, _) in ENV_EXAMPLE.items()} | {
    "SECRET_KEY": "test-secret-key-from-the-compose-test",
    "POSTGRES_PASSWORD": "testpostgrespassword123",
}
RESOLVED = resolve(COMPOSE, FILLED_ENV)


def command_of(service: str, env: Mapping[str, str] = FILLED_ENV) -> list[str]:
    command = resolve(SERVICES[service]["command"], env)
    return shlex.split(command) if isinstance(command, str) else command


def compose_variables() -> set[str]:
    """Every variable the compose file reads from .env (not `$$` escapes meant for the container's shell)."""
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_]\w*)", COMPOSE_TEXT))


def app_variables() -> set[str]:
    """Every variable webapp/config.py reads from the environment."""
    source = Path(settings.__file__).read_text()
    return set(settings.ENVIRONMENT) | set(re.findall(r"environ(?:\.get\(|\[)\"([A-Z][A-Z0-9_]*)\"", source))


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (PROJECT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


# ---- the services and their entry points ---------------------------------------------------------------------


def test_the_stack_has_every_service():
    assert {"web", "worker", "scheduler", "migrate", "redis", "postgres"} <= set(SERVICES)
    catchers = [name for name, svc in SERVICES.items() if "mailpit" in str(svc.get("image", ""))]
    assert catchers == ["mailpit"], "the dev profile needs one mail catcher, reachable as `mailpit`"
    assert SERVICES["mailpit"]["profiles"] == ["dev"]
    # Everything only the dev profile needs stays out of a production `docker compose up`.
    for name, svc in SERVICES.items():
        if name in ("mailpit", "mailpit-certs"):
            assert svc.get("profiles") == ["dev"], name
        else:
            assert "profiles" not in svc, f"{name} must start without a profile"


def test_app_services_share_one_image_and_one_set_of_settings():
    first = SERVICES[APP_SERVICES[0]]
    for name in APP_SERVICES:
        svc = SERVICES[name]
        assert svc["build"] == "." and svc["image"] == first["image"], name
        assert svc["environment"] == first["environment"], f"{name} must use the shared x-outcry-env settings"
    assert "x-outcry-env" in COMPOSE and first["environment"] == COMPOSE["x-outcry-env"]


def test_web_runs_the_app_factory_with_gunicorn():
    command = command_of("web")
    assert command[0] == "gunicorn"
    targets = [arg for arg in command[1:] if re.fullmatch(r"[\w.]+:\w+\(\)", arg)]
    assert len(targets) == 1, command
    module_name, _, call = targets[0].partition(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, call.removesuffix("()"), None)), f"{targets[0]} names nothing callable"
    assert "--bind=0.0.0.0:8000" in command
    assert "--workers=${WEB_CONCURRENCY:-2}" in SERVICES["web"]["command"], "worker count comes from WEB_CONCURRENCY"
    assert command_of("web", FILLED_ENV | {"WEB_CONCURRENCY": "7"}).count("--workers=7") == 1


def test_celery_commands_find_the_celery_app():
    for name in ("worker", "scheduler"):
        assert command_of(name)[:4] == ["celery", "-A", "tasks", "worker"], name
    # `-A tasks` finds no `app`/`celery` in the package, so Celery looks in tasks/celery.py for `app`.
    package = ast.parse((PROJECT / "tasks" / "__init__.py").read_text())
    assert not _module_level_names(package) & {"app", "celery"}
    module = ast.parse((PROJECT / "tasks" / "celery.py").read_text())
    assert "app" in _module_level_names(module), "tasks/celery.py must define `app`"


def _module_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, (ast.AnnAssign, ast.FunctionDef, ast.ClassDef)):
            names.add(node.target.id if isinstance(node, ast.AnnAssign) else node.name)
    return names


def _migrate_steps() -> list[list[str]]:
    command = command_of("migrate")
    assert command[:2] == ["sh", "-c"], "migrate runs its steps in one shell so that a failure stops it"
    return [shlex.split(step) for step in command[2].split("&&")]


def test_migrate_upgrades_the_schema_then_loads_the_campaigns():
    steps = _migrate_steps()
    assert [step[3:] for step in steps] == [["db", "upgrade"], ["campaigns", "load"]]
    for step in steps:
        assert step[:3] == ["flask", "--app", "webapp"]
    assert hasattr(importlib.import_module("webapp"), "create_app"), "`flask --app webapp` finds the factory"


def _cli_checks() -> dict[str, list[str]]:
    """Each real command line of the stack, made to stop after parsing its options (`--help`, `--check-config`)."""
    checks = {"web": command_of("web") + ["--check-config"]}
    checks["worker"] = command_of("worker") + ["--help"]
    checks["scheduler"] = command_of("scheduler") + ["--help"]
    for name in ("worker", "scheduler"):
        test = RESOLVED["services"][name]["healthcheck"]["test"]
        checks[f"{name} healthcheck"] = shlex.split(test[1].replace("$HOSTNAME", "probe")) + ["--help"]
    for step in _migrate_steps():
        checks[f"migrate: {' '.join(step[3:])}"] = step + ["--help"]
    return checks


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Run every check at once, each in its own process: loading the app there touches no test state."""
    tmp = tmp_path_factory.mktemp("compose-cli")
    env = {key: value for key, value in os.environ.items() if key not in app_variables()}
    env |= {
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "SECRET_KEY": "compose-cli-check",
        "DATABASE_URL": f"sqlite:///{tmp / 'cli.db'}",
        "REDIS_URL": "redis://127.0.0.1:9/0",  # never connected to: every command stops after parsing
    }
    processes = {
        name: subprocess.Popen(args, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, args in _cli_checks().items()
    }
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return results


@pytest.mark.parametrize("name", list(_cli_checks()))
def test_every_command_line_is_accepted_by_its_program(cli_results, name):
    result = cli_results[name]
    assert result.returncode == 0, f"{' '.join(result.args)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"


# ---- wiring ---------------------------------------------------------------------------------------------------


def test_database_and_redis_urls_point_at_the_compose_services():
    env = RESOLVED["x-outcry-env"]
    database = urlsplit(env["DATABASE_URL"])
    postgres = RESOLVED["services"]["postgres"]["environment"]
    assert database.scheme.startswith("postgresql")
    assert (database.hostname, database.port) == ("postgres", 5432)
    assert database.username == postgres["POSTGRES_USER"] == "outcry"
    assert database.password == postgres["POSTGRES_PASSWORD"] == FILLED_ENV["POSTGRES_PASSWORD"]
    assert database.path == "/" + postgres["POSTGRES_DB"]
    # The URL names a driver the image really installs (SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3).
    make_url(env["DATABASE_URL"]).get_dialect().import_dbapi()
    redis = urlsplit(env["REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port, redis.path) == ("redis", "redis", 6379, "/0")
    for host in (database.hostname, redis.hostname):
        assert host in SERVICES


def test_an_operator_can_point_at_external_servers():
    env = resolve(
        COMPOSE,
        FILLED_ENV
        | {"DATABASE_URL": "postgresql+psycopg2://u:p@db.example:5432/o", "REDIS_URL": "redis://cache.example:6379/2"},
    )
    assert env["x-outcry-env"]["DATABASE_URL"] == "postgresql+psycopg2://u:p@db.example:5432/o"
    assert env["x-outcry-env"]["REDIS_URL"] == "redis://cache.example:6379/2"


@pytest.mark.parametrize("secret", SECRETS)
def test_compose_refuses_to_start_without_the_secrets(secret):
    with pytest.raises(MissingVariable, match=secret):
        resolve(COMPOSE, FILLED_ENV | {secret: ""})
    without = {key: value for key, value in FILLED_ENV.items() if key != secret}
    with pytest.raises(MissingVariable, match=secret):
        resolve(COMPOSE, without)


def test_no_secret_is_written_into_the_compose_file():
    secret_name = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY")
    environments = [COMPOSE["x-outcry-env"]] + [svc.get("environment", {}) for svc in SERVICES.values()]
    for environment in environments:
        for key, value in environment.items():
            if secret_name.search(key):
                # Required (`:?`), or optional with nothing written in its place (the OAuth clients' secrets).
                assert re.fullmatch(rf"\$\{{{key}:\?[^}}]*\}}", value) or value == f"${{{key}:-}}", (
                    f"{key} must come from .env, required: {value!r}"
                )
    for key in ("DATABASE_URL", "REDIS_URL"):
        # With no .env at all, whatever password is left in the URL was written into the file.
        assert not urlsplit(interpolate(COMPOSE["x-outcry-env"][key], {})).password, f"{key} carries a literal password"
    for keyword, rest in dockerfile_instructions():
        if keyword in ("ENV", "ARG"):
            assert not secret_name.search(rest), f"the image must not carry secrets: {keyword} {rest}"


def test_migrations_run_once_before_the_app_starts():
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in LONG_RUNNING_APP_SERVICES:
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy", name


def test_periodic_jobs_run_apart_from_delivery():
    """Delivery workers consume only the delivery queue; the one scheduler runs beat and the periodic queue."""
    from webapp.config import DELIVERY_QUEUE, PERIODIC_QUEUE

    assert f"--queues={DELIVERY_QUEUE}" in command_of("worker")
    scheduler = command_of("scheduler")
    assert "--beat" in scheduler and f"--queues={PERIODIC_QUEUE}" in scheduler
    assert "replicas" not in SERVICES["scheduler"].get("deploy", {})


def test_workers_scale():
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker, "`--scale worker=N` needs neither"
    assert [name for name, svc in SERVICES.items() if "container_name" in svc] == []
    assert RESOLVED["services"]["worker"]["deploy"]["replicas"] == "1"
    assert resolve(COMPOSE, FILLED_ENV | {"WORKER_REPLICAS": "4"})["services"]["worker"]["deploy"]["replicas"] == "4"
    assert "--concurrency=${WORKER_CONCURRENCY:-200}" in worker["command"] and "--pool=threads" in worker["command"]


def test_redis_and_postgres_keep_their_data_on_named_volumes():
    redis, postgres = SERVICES["redis"], SERVICES["postgres"]
    assert redis["image"] == "redis:7" and postgres["image"] == "postgres:16"
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in redis["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in postgres["volumes"]
    assert {"redis-data", "postgres-data"} <= set(COMPOSE["volumes"])


def test_every_long_running_service_has_a_health_check():
    for name, svc in SERVICES.items():
        if svc.get("restart") == "no":  # one-shot jobs
            continue
        check = svc.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
    web = SERVICES["web"]["healthcheck"]["test"]
    assert web[:3] == ["CMD", "python", "-c"]
    compile(web[3], "web healthcheck", "exec")
    assert "http://127.0.0.1:8000/livez" in web[3], "web is checked through /livez on the port gunicorn binds"
    for name in ("worker", "scheduler"):
        # Each pings the node name its command gives itself.
        test = SERVICES[name]["healthcheck"]["test"][1]
        assert "inspect ping" in test and f"--destination {name}@$$HOSTNAME" in test, name
        assert f"--hostname={name}@%h" in SERVICES[name]["command"], name
    assert "redis-cli ping" in SERVICES["redis"]["healthcheck"]["test"][1]
    assert "pg_isready" in SERVICES["postgres"]["healthcheck"]["test"][1]


def _web_health_checks() -> dict[str, str]:
    """The Python the web container's health checks run: compose's, and the image's own (Dockerfile)."""
    image = [rest for keyword, rest in dockerfile_instructions() if keyword == "HEALTHCHECK"][-1]
    return {
        "compose": SERVICES["web"]["healthcheck"]["test"][3],
        "Dockerfile": yaml.safe_load(image.split(" CMD ", 1)[1])[2],
    }


@pytest.fixture
def stalled_site(app, make_app):
    """The site serving on loopback (as gunicorn does in the web container) while /healthz answers 503: no
    delivery worker alive and the database unreachable (a file that cannot be opened stands in for it)."""
    from werkzeug.serving import make_server

    stalled = make_app(DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'no-such-folder' / 'outcry.db'}")
    server = make_server("127.0.0.1", 0, stalled, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_the_web_containers_health_check_is_about_the_web_process(stalled_site):
    """Delivery stalled and the database down are /healthz's business (a monitor pages someone); the web
    process still serves its pages and its 503s, so its container is healthy, and Docker (or an orchestrator
    that restarts unhealthy containers) leaves it alone. Each check is run as the container runs it."""

    def run(check: str) -> int:
        code = check.replace("127.0.0.1:8000", stalled_site)
        return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode

    for name, check in _web_health_checks().items():
        assert run(check) == 0, f"{name}'s health check calls the web container unhealthy while it serves"
        # What the check must not be: /healthz on the same site fails the same command.
        assert run(check.replace("/livez", "/healthz")) != 0, "the site was meant to be stalled"


# ---- settings: .env.example, compose and the app agree -----------------------------------------------------


def test_env_example_lists_only_settings_something_reads():
    used = app_variables() | compose_variables()
    assert set(ENV_EXAMPLE) - used == set(), "listed in .env.example but read by neither the app nor compose"


def test_env_example_documents_every_setting_of_the_app_and_of_compose():
    listed = set(ENV_EXAMPLE)
    assert app_variables() - listed == set(), "the app reads these; .env.example must document them"
    assert compose_variables() - listed == set(), "docker-compose.yml reads these; .env.example must document them"
    for key, (_value, comments) in ENV_EXAMPLE.items():
        assert comments and len(" ".join(comments)) > 20, f".env.example: {key} needs a sentence saying what it does"


def test_compose_passes_every_app_setting_to_the_containers():
    assert app_variables() - set(COMPOSE["x-outcry-env"]) == set()


def test_env_example_holds_no_secret():
    for key in SECRETS:
        assert ENV_EXAMPLE[key][0] == "", f".env.example must leave {key} empty"
    assert all(value == "" for value, _ in ENV_EXAMPLE.values()), "defaults live in one place: compose and the app"


def test_the_defaults_in_env_example_start_the_app():
    """An operator's .env, as shipped plus the secrets, gives settings the app accepts."""
    environment = {key: value for key, value in RESOLVED["x-outcry-env"].items()}
    config = dict(settings.DEFAULTS) | settings.read_environment(environment)
    settings.finalize(config, "/app/instance")
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


# ---- the image -------------------------------------------------------------------------------------------------


def test_the_image_runs_gunicorn_as_a_non_root_user():
    instructions = dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms[-1] == "python:3.11-slim"
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), "the app must not run as root"
    assert any(keyword == "RUN" and "-r requirements.txt" in rest for keyword, rest in instructions)
    cmd = yaml.safe_load([rest for keyword, rest in instructions if keyword == "CMD"][-1])
    assert cmd[:3] == command_of("web")[:3], "the image's default command serves what compose's web serves"
    healthcheck = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"][-1]
    assert "http://127.0.0.1:8000/livez" in healthcheck


def test_the_build_context_leaves_out_secrets_and_local_state():
    ignored = {line.strip() for line in (PROJECT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".git", ".venv", "instance"} <= ignored


# ---- the dev profile: a mail catcher the app trusts -----------------------------------------------------------


def _certs_command() -> tuple[str, str]:
    command = SERVICES["mailpit-certs"]["command"]
    assert command[:2] == ["python", "-c"] and len(command) == 4
    return command[2], command[3]


def test_the_mail_catcher_speaks_starttls_where_the_docs_say():
    mailpit = RESOLVED["services"]["mailpit"]
    env = mailpit["environment"]
    assert env["MP_SMTP_BIND_ADDR"].endswith(":1025")
    assert env["MP_SMTP_REQUIRE_STARTTLS"] == "true" and env["MP_SMTP_AUTH_ACCEPT_ANY"] == "true"
    assert mailpit["depends_on"]["mailpit-certs"]["condition"] == "service_completed_successfully"
    script, out = _certs_command()
    volume = next(v for v in SERVICES["mailpit-certs"]["volumes"] if v.split(":")[1] == out).split(":")[0]
    assert env["MP_SMTP_TLS_CERT"] == f"{out}/mailpit.pem" and env["MP_SMTP_TLS_KEY"] == f"{out}/mailpit-key.pem"
    app_mount = next(v for v in COMPOSE["x-app"]["volumes"] if v.startswith(f"{volume}:")).split(":")[1]
    ca_file = f"{app_mount}/ca.pem"
    # What .env.example and docs/deploy.md tell the operator to set must match the file.
    assert settings.parse_allowed_hosts("mailpit:1025") == frozenset({("mailpit", 1025)})
    for text in (" ".join(ENV_EXAMPLE["SMTP_ALLOWED_HOSTS"][1]), (PROJECT / "docs" / "deploy.md").read_text()):
        assert "mailpit:1025" in text
    for text in (" ".join(ENV_EXAMPLE["SMTP_CA_FILE"][1]), (PROJECT / "docs" / "deploy.md").read_text()):
        assert ca_file in text


class _Inbox:
    def __init__(self):
        self.messages: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


def test_the_app_delivers_to_the_dev_mail_catcher_over_verified_starttls(tmp_path, monkeypatch):
    """The dev profile's certificate, served as Mailpit serves it (STARTTLS, any login), passes the app's own
    TLS verification and SSRF policy with exactly the settings the docs give."""
    script, _ = _certs_command()
    certs = tmp_path / "certs"
    made = subprocess.run([sys.executable, "-c", script, str(certs)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    files = {path.name: path.read_bytes() for path in certs.iterdir()}
    assert set(files) == {"ca.pem", "mailpit.pem", "mailpit-key.pem"}
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in certs.iterdir())
    again = subprocess.run([sys.executable, "-c", script, str(certs)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and {p.name: p.read_bytes() for p in certs.iterdir()} == files, "kept on restart"

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certs / "mailpit.pem", certs / "mailpit-key.pem")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=lambda *args: AuthResult(success=True),
        auth_required=True,
    )
    controller.start()
    try:

        def resolve_mailpit(host, port, *args, **kwargs):
            assert host == "mailpit"  # the compose service name, as Docker's DNS would answer it
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]

        monkeypatch.setattr(ssrf, "getaddrinfo", resolve_mailpit)
        # Inside compose the port is 1025; here the test server's free port stands in for it.
        allowed = settings.parse_allowed_hosts(f"mailpit:{port}")
        with pytest.raises(ssrf.RefusedHost):
            ssrf.check("mailpit", port, frozenset(), (25, 465, 587, 2525))  # refused unless allowed
        checked = ssrf.check("mailpit", port, allowed, (25, 465, 587, 2525))
        account = SmtpAccount(host="mailpit", port=port, security="starttls", username="anyone", password="anything")
        with pytest.raises(smtp.DeliveryError, match="certificate"):
            smtp.connect(account, checked, timeout=5, ca_file=None)  # without SMTP_CA_FILE the CA is unknown
        connection = smtp.connect(account, checked, timeout=5, ca_file=str(certs / "ca.pem"))
        letter = smtp.OutgoingLetter(
            letter_id="compose-dev-profile",
            sender_name="Dev Supporter",
            sender_email="supporter@example.org",
            recipient="petitions@example.org",
            recipient_name="Test Office",
            subject="Trying the dev profile",
            body="This letter went through the mail catcher.",
        )
        smtp.send(connection, letter, timeout=5)
        smtp.close(connection)
        # Python 3.13 verifies strictly by default; the dev certificate must pass that too.
        strict = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        strict.verify_flags |= ssl.VERIFY_X509_STRICT
        with smtp.PinnedSMTP(checked.addresses, timeout=5) as client:
            client.connect("mailpit", port)
            client.starttls(context=strict)
            assert client.noop()[0] == 250
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    assert b"Subject: Trying the dev profile" in inbox.messages[0]
