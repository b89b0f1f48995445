"""The API's own modules, and a detector of code that could unpickle: shared by the bundle and
admin tests."""

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def api_sources() -> list[Path]:
    """Every project module the API process imports (the bundle load path among them), found
    by importing the app in a fresh interpreter rather than by file names."""
    probe = (
        "import sys, housing_serving.app\n"
        "for m in list(sys.modules.values()):\n"
        "    print(getattr(m, '__file__', None) or '')"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.split()
    ours = {"housing_core", "housing_assets", "housing_serving", "housing_ui"}
    return sorted(
        {
            Path(f)
            for f in out
            if f.endswith(".py")
            and Path(f).is_relative_to(REPO)
            and Path(f).relative_to(REPO).parts[0] in ours
        }
    )


UNSAFE_MODULES = {
    "pickle",
    "_pickle",
    "cPickle",
    "cloudpickle",
    "joblib",
    "dill",
    "shelve",
    "marshal",
}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def unsafe_deserialization(source: str) -> list[str]:
    """Code (not comments or docstrings) that can run code while loading bytes."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif (
            isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES
        ):
            found.append(f"from {node.module}")
        elif isinstance(node, ast.Attribute | ast.Name):
            name = _dotted(node)
            if name.split(".")[0] in UNSAFE_MODULES or name.endswith("read_pickle"):
                found.append(name)
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if (
                name in {"torch.load", "yaml.load", "yaml.unsafe_load"}
                or (name.startswith("mlflow.") and name.endswith(".load_model"))
                or any(
                    k.arg == "allow_pickle" and getattr(k.value, "value", None) is True
                    for k in node.keywords
                )
                or (
                    name in {"__import__", "importlib.import_module"}
                    and node.args
                    and getattr(node.args[0], "value", None) in UNSAFE_MODULES
                )
            ):
                found.append(name)
    return found
