"""The deployment files stay reproducible and hardened, and the README stays true to them.

- ``requirements.lock`` pins (with hashes) every runtime dependency of pyproject.toml and the
  build backend, nothing of the dev or backtest extras; the README's refresh command is the one
  recorded in it.
- The Dockerfile starts from a base image pinned by version and digest and installs from the lock.
- ``deploy/letf-bot.service`` keeps every sandboxing directive (parsed here, so none can silently
  disappear); where ``systemd-analyze`` is installed, it verifies the unit and rates it below 3.
- MemoryDenyWriteExecute holds for the daemon: a simulated run under the kernel's equivalent
  (``PR_SET_MDWE``) succeeds, so no runtime dependency needs writable-and-executable memory.
- ``deploy/bot.env.example`` means the same to systemd's EnvironmentFile= as to Docker and
  ``.env``: no trailing comments, which systemd would keep as part of the value.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
BUILD_INPUT = ROOT / "deploy" / "build-requirements.in"
UNIT = ROOT / "deploy" / "letf-bot.service"
# What never belongs in the daemon's install: the backtest extra and the dev tools.
NOT_RUNTIME = {
    "numba", "llvmlite", "matplotlib", "pytest", "mypy", "ruff", "hypothesis", "freezegun",
    "aiosmtpd", "ffn", "quantstats", "bt", "pandas-stubs",
}  # fmt: skip


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def lock_entries() -> list[tuple[Requirement, list[str]]]:
    """Each locked requirement (``name==version ; marker``) with its hashes."""
    text = LOCK.read_text().replace("\\\n", " ")
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *hashes = re.split(r"\s+--hash=", line.strip())
        entries.append((Requirement(spec), [h.strip() for h in hashes]))
    return entries


def lock_command() -> str:
    header = re.search(r"^#\s+(uv pip compile [^\n]+)$", LOCK.read_text(), re.MULTILINE)
    assert header is not None, "the lock records the command that made it"
    return header.group(1)


def locked_for(python: str) -> dict[str, str]:
    """name → version of the lock entries that apply on a Linux Python ``python``."""
    env = {**default_environment(), "python_version": python.rsplit(".", 1)[0]}
    env.update(python_full_version=python, sys_platform="linux", platform_system="Linux")
    pins: dict[str, str] = {}
    for requirement, _ in lock_entries():
        if requirement.marker is None or requirement.marker.evaluate(env):
            name = canonicalize_name(requirement.name)
            assert name not in pins, f"{name} is locked twice for Python {python}"
            (spec,) = requirement.specifier
            pins[name] = spec.version
    return pins


def unit_sections() -> dict[str, list[tuple[str, str]]]:
    """The unit file as systemd reads it: [Section] → (key, value) in order, comments dropped."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def service(key: str) -> list[str]:
    return [value for name, value in unit_sections()["Service"] if name == key]


def readme_section(title: str) -> str:
    """A section of the operations page (docs/operations.md, linked from the README)."""
    page = (ROOT / "docs" / "operations.md").read_text()
    match = re.search(rf"^## {title}\n(.*?)(?=^#{{1,2}} |\Z)", page, re.MULTILINE | re.DOTALL)
    assert match is not None, f"docs/operations.md has a '## {title}' section"
    return match.group(1)


# --- the lock ---


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    entries = lock_entries()

    assert entries
    for requirement, hashes in entries:
        assert len(requirement.specifier) == 1
        assert next(iter(requirement.specifier)).operator == "=="
        assert hashes, f"{requirement.name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes)


@pytest.mark.parametrize("python", ["3.11.16", "3.13.1"])
def test_the_lock_satisfies_pyproject_on_every_supported_python(python: str) -> None:
    """The image's Python (3.11) and a newer host's: each dependency, and the build backend,
    is locked once, at a version pyproject.toml accepts."""
    table = pyproject()
    wanted = [*table["project"]["dependencies"], *table["build-system"]["requires"]]
    pins = locked_for(python)

    for spec in wanted:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: refresh it (README, Docker)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy {spec}: refresh requirements.lock"
        )


def test_the_lock_holds_no_backtest_or_dev_package() -> None:
    names = {canonicalize_name(requirement.name) for requirement, _ in lock_entries()}

    assert not names & NOT_RUNTIME


def test_the_lock_is_made_from_pyproject_and_the_build_backend() -> None:
    build = [line for line in BUILD_INPUT.read_text().splitlines() if not line.startswith("#")]

    assert build == pyproject()["build-system"]["requires"]
    command = lock_command().split()
    assert command[3:5] == ["pyproject.toml", "deploy/build-requirements.in"]
    assert {"--universal", "--generate-hashes"} <= set(command)
    assert command[command.index("--python-version") + 1] == "3.11"
    assert command[-2:] == ["-o", "requirements.lock"]


def test_the_readme_refreshes_the_lock_with_the_command_recorded_in_it() -> None:
    assert f"\n{lock_command()}\n" in readme_section("Docker")


# --- the image ---


def test_the_image_starts_from_a_base_pinned_by_version_and_digest() -> None:
    froms = re.findall(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)

    assert len(froms) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", froms[0])


def test_the_image_installs_from_the_lock_and_runs_as_a_user_with_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    steps = [line.split(None, 1) for line in dockerfile.splitlines() if re.match(r"[A-Z]+ ", line)]
    order = [f"{op} {rest}" for op, rest in steps]

    copy_lock = order.index("COPY requirements.lock ./")
    install_lock = order.index(
        "RUN pip install --no-cache-dir --require-hashes -r requirements.lock"
    )
    user = order.index("USER bot")
    assert copy_lock < install_lock < user < order.index('ENTRYPOINT ["bot", "run"]')
    assert 'VOLUME ["/state"]' in order
    assert "BOT_STATE_DIR=/state" in dockerfile
    assert re.search(r"HEALTHCHECK [^\n]*\\\n\s+CMD \[\"bot\", \"health\"", dockerfile)


# --- compose ---


def test_compose_rotates_logs_restarts_checks_health_and_keeps_the_root_read_only() -> None:
    compose = (ROOT / "deploy" / "docker-compose.yml").read_text()

    for line in (
        "env_file: bot.env",
        "- bot-state:/state",
        "read_only: true",
        "- /tmp",
        "cap_drop: [ALL]",
        "- no-new-privileges:true",
        "restart: unless-stopped",
        'test: ["CMD", "bot", "health", "--max-age-minutes", "5"]',
        "driver: json-file",
        'max-size: "10m"',
        'max-file: "5"',
        "stop_grace_period: 90s",
    ):
        assert re.search(rf"^\s+{re.escape(line)}$", compose, re.MULTILINE), line


# --- systemd ---

HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "PrivateMounts": "yes",
    "PrivateUsers": "yes",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "RemoveIPC": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "SystemCallErrorNumber": "EPERM",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "DevicePolicy": "closed",
    "UMask": "0077",
    "StateDirectory": "letf-bot",
    "StateDirectoryMode": "0700",
    "Restart": "on-failure",
    "KillSignal": "SIGTERM",
    "KillMode": "mixed",
}


@pytest.mark.parametrize(("key", "value"), HARDENING.items())
def test_the_unit_keeps_each_hardening_directive(key: str, value: str) -> None:
    assert service(key) == [value]


def test_the_unit_filters_system_calls_to_an_ordinary_services_unprivileged_ones() -> None:
    assert service("SystemCallFilter") == ["@system-service", "~@privileged"]


def test_the_unit_runs_as_a_system_user_with_its_state_and_a_root_only_env_file() -> None:
    (user,) = service("User")
    (state,) = service("StateDirectory")

    assert user not in {"", "root", "0"}
    assert service("EnvironmentFile") == ["/etc/letf-bot/bot.env"]
    assert f"BOT_STATE_DIR=/var/lib/{state}" in service("Environment")
    assert service("ExecStart")[0].startswith("/opt/letf-bot/.venv/bin/bot run ")


def test_the_unit_gives_sigterm_its_minute_and_limits_restarts() -> None:
    """The daemon winds down within 60 s of SIGTERM (cancels, journals, flushes alerts)."""
    (timeout,) = service("TimeoutStopSec")
    unit = dict(unit_sections()["Unit"])

    assert int(timeout.removesuffix("s")) > 60
    assert unit["StartLimitIntervalSec"] == "1h"
    assert int(unit["StartLimitBurst"]) >= 3
    assert int(service("RestartSec")[0]) >= 10


def test_the_readme_sets_up_the_units_user_paths_and_env_file() -> None:
    section = readme_section("systemd")
    (user,) = service("User")

    assert "useradd --system --user-group" in section
    assert re.search(rf"useradd [^\n]* {user}\n", section)
    assert "install -m 0600 deploy/bot.env.example /etc/letf-bot/bot.env" in section
    assert ".venv/bin/pip install --require-hashes -r requirements.lock" in section
    assert ".venv/bin/pip install --no-deps --no-build-isolation ." in section
    assert "cp deploy/letf-bot.service /etc/systemd/system/" in section


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_systemd_accepts_every_directive_of_the_unit(tmp_path: Path) -> None:
    """`verify` warns about unknown or misspelled keys, which systemd would otherwise ignore;
    ExecStart points at an existing binary so the missing install is not the complaint."""
    unit = tmp_path / "letf-bot.service"
    unit.write_text(re.sub(r"^ExecStart=.*$", "ExecStart=/bin/true", UNIT.read_text(), flags=re.M))

    done = analyze("verify", str(unit))

    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


def test_systemd_rates_the_unit_below_3() -> None:
    done = analyze("security", "--offline=yes", str(UNIT))
    if "--offline" in done.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")

    score = re.search(r"Overall exposure level for letf-bot\.service: ([\d.]+)", done.stdout)
    assert score is not None, done.stdout + done.stderr
    assert float(score.group(1)) < 3


# --- MemoryDenyWriteExecute ---

MDWE_RUN = """
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except OSError:
    pass
else:
    sys.exit(78)
import ssl
ssl.create_default_context()
import bot.adapters.alpaca.broker, bot.adapters.alpaca.market, bot.health
from bot.cli import main
sys.exit(main(["run", "--config", sys.argv[1]]))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_MDWE is a Linux prctl")
def test_the_daemon_runs_without_writable_executable_memory(tmp_path: Path) -> None:
    """What MemoryDenyWriteExecute=yes enforces, in force for a whole simulated run of the demo
    (numpy, pandas, sqlite, TLS and alpaca-py loaded): it fails if a dependency starts to JIT."""
    demo = (ROOT / "config" / "demo.toml").read_text()
    config = tmp_path / "demo.toml"
    config.write_text(re.sub(r'^end = "[^"]+"', 'end = "2026-02-27"', demo, flags=re.M))

    done = subprocess.run(
        [sys.executable, "-c", MDWE_RUN, str(config)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "BOT_STATE_DIR": str(tmp_path / "state")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    if done.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert done.returncode != 78, "PR_SET_MDWE did not refuse a W+X mapping"
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cycles" in done.stdout


# --- the env file ---


def systemd_environment(text: str) -> dict[str, str]:
    """KEY=value lines as systemd's EnvironmentFile= reads unquoted ones: whole-line comments
    only, so a trailing '# ...' stays part of the value."""
    values = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and line[0] not in "#;":
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_the_env_example_means_the_same_to_systemd_docker_and_dotenv() -> None:
    from bot.settings import Settings  # noqa: PLC0415 - only this test needs it

    values = systemd_environment((ROOT / "deploy" / "bot.env.example").read_text())
    values.update(APCA_API_KEY_ID="PKTEST", APCA_API_SECRET_KEY="s3cret")

    assert not [key for key, value in values.items() if "#" in value or '"' in value]
    settings = Settings(_env_file=None, **values)
    assert settings.smtp_security == "starttls"
    assert settings.alert_email_to is None
