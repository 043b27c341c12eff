"""The layers and types `make test` checks: a private name is not imported across domains, and
the import contracts and the type checker each refuse a deliberate violation."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "compliance"
BIN = Path(sys.executable).parent


def _domain(module: str) -> str | None:
    """The domain package a module belongs to; None for a root module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (PACKAGE / parts[-1]).is_dir() else None


def _private_imports() -> list[str]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        if "versions" in path.parts:
            continue
        importer = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                "compliance"
            ):
                continue
            private = [
                a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")
            ]

            if private and _domain(node.module or "") != _domain(importer):
                found.append(f"{importer} imports {', '.join(private)} from {node.module}")
    return found


def test_no_private_name_is_imported_from_another_domain():
    assert _private_imports() == []


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "compliance", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_lint_imports_refuses_a_root_module_that_imports_a_domain(tmp_path):
    copy = _copy(tmp_path)
    with (copy / "compliance" / "dates.py").open("a") as dates:
        dates.write("\nfrom compliance.reports import pack  # noqa: E402, F401\n")
    run = subprocess.run(
        [BIN / "lint-imports", "--no-cache", "--contract", "shared-root-modules"],
        cwd=copy,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stdout
    assert "compliance.dates is not allowed to import compliance.reports" in run.stdout


def test_mypy_refuses_a_maybe_missing_id_used_as_an_int(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from compliance.models import Body\n\n\n"
        "def parent_id(body: Body) -> int:\n"
        "    return body.parent_id\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", ROOT / "pyproject.toml", bad],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stdout
    assert 'Incompatible return value type (got "int | None", expected "int")' in run.stdout
