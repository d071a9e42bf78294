"""The split between the extension and the application it drives.

The activities, the control and the command import without the ``sandbox``
extra; starting the application without it fails in one line that says how
to install it; the application's private modules stay inside ``app/``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import chaosllm

PACKAGE = Path(chaosllm.__file__).resolve().parent
APP = PACKAGE / "sandbox" / "app"

# Run before the code under test: graphql-core and uvloop look uninstalled.
WITHOUT_EXTRA = """
import sys

class _Uninstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("graphql", "uvloop"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Uninstalled())
"""


def _without_extra(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "CHAOSLLM_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRA + code], capture_output=True,
                          text=True, timeout=60, env=env)  # fmt: skip


def test_the_activities_control_and_command_import_without_the_extra(tmp_path: Path) -> None:
    proc = _without_extra(
        "import chaosllm.sandbox.actions, chaosllm.sandbox.probes, chaosllm.sandbox.control\n"
        "import chaosllm.sandbox.command, chaosllm.cli\n"
        "import chaosllm\n"
        "names = {a['name'] for a in chaosllm.load_exported_activities()}\n"
        "assert {'start_load', 'load_stats', 'recommendations_source'} <= names\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('graphql', 'uvloop')))\n",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_sandbox_up_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "sandbox"
    proc = _without_extra(
        f"from chaosllm.cli import main\nsys.exit(main(['sandbox', 'up', '--dir', {str(run_dir)!r}]))\n",
        tmp_path,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        "chaosllm sandbox up: error: the sandbox application needs graphql-core, "
        "not installed here: install the sandbox extra with pip install 'chaosllm[sandbox]'\n"
    )
    assert not run_dir.exists()  # nothing was started, nothing recorded


def test_the_demo_without_the_extra_stops_before_anything_starts(tmp_path: Path) -> None:
    proc = _without_extra(
        "from chaosllm.sandbox.app import demo\nsys.exit(demo.main(['--only', '1']))\n", tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "error: the sandbox application needs graphql-core" in proc.stdout
    assert "pip install 'chaosllm[sandbox]'" in proc.stdout
    assert not (tmp_path / "state" / "sandbox").exists()  # nothing was started


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_application_s_private_modules_are_used_only_inside_it() -> None:
    private = {f"chaosllm.sandbox.app.{p.stem}" for p in APP.glob("_*.py") if p.stem != "__init__"}
    assert private, "no private module found in app/"
    outside = [p for p in PACKAGE.rglob("*.py") if APP not in p.parents]
    users = {str(p.relative_to(PACKAGE)): sorted(_imported_modules(p) & private) for p in outside}
    assert {path: used for path, used in users.items() if used} == {}


def test_the_application_does_not_import_the_extension_modules() -> None:
    api = {f"chaosllm.sandbox.{name}" for name in ("actions", "probes", "control", "command")}
    users = {p.name: sorted(_imported_modules(p) & api) for p in APP.glob("*.py")}
    assert {name: used for name, used in users.items() if used} == {}
