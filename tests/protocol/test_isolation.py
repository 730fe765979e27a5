"""The protocol package is pure: no Django, no rest_framework."""
from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import scim_provisioning.protocol as protocol

PACKAGE_DIR = pathlib.Path(protocol.__file__).parent
FORBIDDEN = ("django", "rest_framework")


def _imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_imports_django():
    modules = sorted(PACKAGE_DIR.glob("*.py"))
    assert len(modules) >= 8
    for module in modules:
        imported = _imported_modules(module.read_text())
        assert not {name for name in imported if name.split(".")[0] in FORBIDDEN}, module.name


def test_importing_every_module_leaves_django_unloaded():
    # A fresh interpreter: this test process may have Django loaded by pytest-django.
    code = (
        "import sys\n"
        "import scim_provisioning.protocol.constants, scim_provisioning.protocol.errors\n"
        "import scim_provisioning.protocol.schema, scim_provisioning.protocol.filters\n"
        "import scim_provisioning.protocol.resource, scim_provisioning.protocol.patch\n"
        "import scim_provisioning.protocol.messages, scim_provisioning.protocol.oauth\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework'))\n"
        "assert not loaded, loaded\n"
    )
    root = PACKAGE_DIR.parent.parent
    completed = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


def test_every_module_opens_with_a_docstring_naming_an_rfc():
    for module in sorted(PACKAGE_DIR.glob("*.py")):
        if module.name == "__init__.py":
            continue
        docstring = ast.get_docstring(ast.parse(module.read_text())) or ""
        # SCIM's RFC 7643/7644, or OAuth's RFC 6749 for the token request.
        assert re.search(r"RFC (76|6749)", docstring), module.name
