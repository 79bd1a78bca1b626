"""The wheel is the product (design invariant 15): what `pip install /opt/bot` puts on a server.

The repository's build inputs (as git would commit them) are copied to a temporary folder, a
wheel is built there and installed into a fresh virtualenv outside the checkout; that `bot`,
run from an empty folder with nothing on PYTHONPATH, migrates a new ledger, rebalances on its
built-in paper config, answers `bot status` and `bot --version`, and finds its migrations
inside the installed package. The systemd units shipped in the wheel pass `systemd-analyze
verify` with ExecStart pointed at that `bot` (where the tool is installed).

Cheap by construction: `--no-deps --no-build-isolation` (nothing downloaded), and the fresh
venv sees this interpreter's site-packages through a `.pth` line (a plain path: the editable
install's finder there is not activated, so `bot` can only come from the wheel).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.test_standalone import repository_files

ROOT = Path(__file__).resolve().parents[1]
#: what setuptools reads to build the wheel (setup.py copies the last three into the package)
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "bot/")
SHIPPED = ("migrations/", "config.yaml", "deploy/")


def tracked_build_inputs() -> list[str]:
    wanted = BUILD_INPUTS + SHIPPED
    return [name for name in repository_files() if name.startswith(wanted)]


def build_backend_here() -> bool:
    """This interpreter can build the wheel itself: setuptools>=68 and wheel (the test extras)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major = int(version("setuptools").split(".")[0])
        version("wheel")
    except PackageNotFoundError:
        return False
    return major >= 68


def run(*argv: str | Path, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bot` script of a wheel built from this checkout, in a fresh virtualenv."""
    base = tmp_path_factory.mktemp("wheel")
    source, wheels, venv = base / "source", base / "wheels", base / "venv"
    for name in tracked_build_inputs():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    # offline with the test extras' setuptools and wheel; else pip fetches them (then cached)
    offline = ["--no-build-isolation"] if build_backend_here() else []
    run(*pip, "wheel", "--no-deps", *offline, "-w", wheels, source, cwd=base, env=env)
    (wheel,) = wheels.glob("bot-*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base, env=env)
    python = venv / "bin" / "python"
    purelib = run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=base, env=env
    ).strip()
    # the dependencies (ccxt, SQLAlchemy...) from this interpreter's site-packages
    Path(purelib, "deps-of-the-suite.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=base, env=env)
    return venv / "bin" / "bot"


def test_the_installed_wheel_runs_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "BOT_"))}
    assert run(installed, "--version", cwd=empty, env=env).strip() == "bot 0.1.0"
    where = run(
        installed.with_name("python"),
        "-c",
        "from bot.runtime.shipped import shipped; "
        "print(shipped('migrations'), shipped('config.yaml'))",
        cwd=empty,
        env=env,
    ).split()
    site = str(installed.parents[1])
    assert all(path.startswith(site) for path in where), where  # inside the venv, not ROOT

    assert "head" in run(installed, "db", "upgrade", cwd=empty, env=env)
    assert (empty / "data" / "ledger.sqlite").is_file()
    moved = run(installed, "rebalance", cwd=empty, env=env)
    assert "3000" in moved or "2999.99" in moved, moved
    status = subprocess.run(
        [installed, "status"], cwd=empty, env=env, capture_output=True, text=True, timeout=60
    )
    assert status.returncode in (0, 1) and "open transfers: none" in status.stdout, status
    assert "Traceback" not in status.stderr


def test_the_shipped_units_verify_against_the_installed_bot(
    installed: Path, tmp_path: Path
) -> None:
    """The units inside the wheel (bot/_shipped/deploy) are the repository's, and pass
    `systemd-analyze verify` with ExecStart pointed at the wheel's `bot`; the service is
    hardened where `systemd-analyze security` finds it cheap."""
    site = installed.parents[1]
    (shipped_units,) = site.glob("lib/python*/site-packages/bot/_shipped/deploy")
    names = ("bot.service", "bot-stopped.service")
    for name in names:
        assert (shipped_units / name).read_text() == (ROOT / "deploy" / name).read_text()
    service = (ROOT / "deploy" / "bot.service").read_text()
    for line in (
        "SystemCallFilter=@system-service",
        "SystemCallArchitectures=native",
        "RestrictNamespaces=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "ProtectKernelLogs=yes",
        "ProtectProc=invisible",
        "RestartPreventExitStatus=2",
        "ReadWritePaths=/var/lib/bot",
    ):
        assert f"\n{line}\n" in service, line
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    for name in names:
        text = (shipped_units / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/bot/.venv/bin/bot", str(installed)))
    verified = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr
