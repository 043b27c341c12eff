"""Pages ask the services: no page module builds or runs a query of its own, so that a page and
the API answer the same question the same way (a primary-key lookup, session.get, is allowed)."""

import ast
from pathlib import Path

import compliance

PACKAGE = Path(compliance.__file__).parent
QUERYING = {"select", "exec", "execute", "scalars", "scalar"}


def queries_in(source: str) -> list[tuple[int, str]]:
    """Each call that builds or runs a query, by line: select(...), session.exec(...) and the
    like, called by name or as a method."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in QUERYING:
                found.append((node.lineno, name))
    return found


def test_no_page_module_holds_a_query():
    pages = sorted(PACKAGE.rglob("*pages.py"))
    assert len(pages) > 15
    offending = {str(path.relative_to(PACKAGE)): queries_in(path.read_text()) for path in pages}
    assert {path: calls for path, calls in offending.items() if calls} == {}


def test_a_query_in_a_page_is_found():
    source = "def page(session):\n    return session.exec(select(Body)).all()\n"
    assert queries_in(source) == [(2, "exec"), (2, "select")]
