"""The package users install: build the sdist and the wheel, check them, install the
wheel into a new virtualenv with no source tree, and use it from there.

Dependencies come from the package index pip is configured with (PyPI, or a
local index or wheelhouse through pip's own configuration); nothing is
installed from the source tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "journals" / "samples"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _outside_env() -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH to the work tree, no venv of ours."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("CHAOSLLM_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


class Built:
    def __init__(self, dist: Path) -> None:
        [self.wheel] = sorted(dist.glob("chaosllm-*.whl"))
        [self.sdist] = sorted(dist.glob("chaosllm-*.tar.gz"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """`python -m build`, as `make package` runs it: the sdist, then the wheel built from it."""
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], cwd=REPO)
    return Built(dist)


class Installed:
    def __init__(self, venv: Path, seconds: float, home: Path) -> None:
        self.venv = venv
        self.bin = venv / "bin"
        self.seconds = seconds
        self.home = home
        self.env = {**_outside_env(), "HOME": str(home)}

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return _run([str(self.bin / args[0]), *args[1:]], cwd=cwd or self.home, env=self.env)


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel alone (no extra) in a new virtualenv, used from a folder outside the tree."""
    root = tmp_path_factory.mktemp("user")
    venv = root / "venv"
    env = _outside_env()
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=env)
    started = time.monotonic()
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(built.wheel)],
         cwd=root, env=env, timeout=1200)
    seconds = time.monotonic() - started
    home = root / "home"
    home.mkdir()
    print(f"\nwheel {built.wheel.name}: {built.wheel.stat().st_size} bytes, "
          f"installed with its dependencies in {seconds:.1f} s")
    yield Installed(venv, seconds, home)


def _package_data(root: Path) -> set[str]:
    """Every file of the chaosllm package that is not Python source: what modules read at run time."""
    return {p.relative_to(root).as_posix() for p in (root / "chaosllm").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}


def test_twine_accepts_both_distributions(built: Built) -> None:
    done = _run([sys.executable, "-m", "twine", "check", "--strict", str(built.wheel), str(built.sdist)],
                cwd=REPO)
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_the_wheel_carries_every_data_file_and_no_tests(built: Built) -> None:
    names = set(zipfile.ZipFile(built.wheel).namelist())
    wanted = _package_data(REPO)
    assert {"chaosllm/py.typed", "chaosllm/slo/slo-file.schema.json"} <= wanted
    assert wanted <= names, f"missing from the wheel: {sorted(wanted - names)}"
    assert not [n for n in names if n.startswith(("tests/", "experiments/", "benchmarks/"))]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    metadata = zipfile.ZipFile(built.wheel).read(meta).decode()
    assert "Requires-Python: >=3.10" in metadata
    assert "Provides-Extra: sandbox" in metadata
    entry_points = zipfile.ZipFile(built.wheel).read(meta.replace("METADATA", "entry_points.txt"))
    assert b"chaosllm = chaosllm.cli:main" in entry_points


def test_the_sdist_holds_the_license_changelog_and_schemas(built: Built) -> None:
    import tarfile

    with tarfile.open(built.sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "setup.cfg", "pyproject.toml"} <= names
    assert _package_data(REPO) <= names


def test_import_comes_from_the_venv_not_the_tree(installed: Installed) -> None:
    done = installed.run("python", "-c", "import chaosllm, sys; print(chaosllm.__file__); "
                         "print(chaosllm.__version__)")
    where, version = done.stdout.split()
    assert where.startswith(str(installed.venv)), where
    from chaosllm import __version__

    assert version == __version__


def test_chaos_discover_finds_every_activity(installed: Installed) -> None:
    out = installed.home / "discovery.json"
    installed.run("chaos", "discover", "chaosllm", "--no-install", "--no-system-info",
                  "--discovery-path", str(out))
    discovered = json.loads(out.read_text())
    activities = discovered["activities"]
    from chaosllm import discover

    expected = {(a["mod"], a["name"]) for a in discover(discover_system=False)["activities"]}
    assert {(a["mod"], a["name"]) for a in activities} == expected
    assert len(expected) > 100


def test_the_chaosllm_command_runs_and_reports(installed: Installed) -> None:
    assert "usage: chaosllm" in installed.run("chaosllm", "--help").stdout
    journal = installed.home / "journal.json"
    journal.write_bytes((SAMPLES / "redis-flush-deviated.json").read_bytes())
    reports = installed.home / "reports"
    installed.run("chaosllm", "report", str(journal), "--format", "md,html,junit", "--out", str(reports))
    assert sorted(p.suffix for p in reports.iterdir() if p.is_file()) == [".html", ".md", ".xml"]


def test_the_schemas_load_from_the_installed_package(installed: Installed) -> None:
    slos = installed.home / "slos.yaml"
    slos.write_text("slos:\n  - name: availability\n    target: 99.5\n")
    done = subprocess.run(
        [str(installed.bin / "python"), "-c",
         "import sys; from chaosllm.slo.spec import load_slos; load_slos(sys.argv[1])", str(slos)],
        cwd=installed.home, env=installed.env, capture_output=True, text=True, timeout=120)
    # The entry lacks its window and query: the error comes from the shipped schema's rule.
    assert done.returncode != 0
    assert "slos.yaml" in done.stderr and "window" in done.stderr and "rule:" in done.stderr, done.stderr


def test_without_the_sandbox_extra_the_sandbox_refuses_in_one_line(installed: Installed) -> None:
    done = subprocess.run([str(installed.bin / "chaosllm"), "sandbox", "up"], cwd=installed.home,
                          env=installed.env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "install the sandbox extra" in done.stderr and "Traceback" not in done.stderr, done.stderr
