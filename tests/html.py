"""Strict HTML parsing: a test fails on malformed markup."""

import html5lib


def parse(markup: str):  # type: ignore[no-untyped-def]
    """Parse a page, raising on any parse error; return the element tree."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(markup)
