"""The `compliance` command line, counting the SQL statements it sends.

The benchmark runs `python -m benchmarks.counted_cli check --at DATE` in place of `compliance
check --at DATE`: the same entry point, with one event listener that costs microseconds. The
count is written to the file named by BENCH_STATEMENTS_FILE when the process exits.
"""

import atexit
import os
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine


class StatementCounter:
    """Counts statements as the application sends them; an executemany is one, however many
    batches SQLAlchemy splits it into (the batches share one execution context)."""

    def __init__(self) -> None:
        self.count = 0
        self._last: object = None

    def __call__(self, _conn, _cursor, _statement, _parameters, context, _executemany) -> None:  # type: ignore[no-untyped-def]
        # Holding the last context keeps its id from being reused by the next one.
        if context is not self._last:
            self.count += 1
            self._last = context


def main() -> None:
    """Run the command line with every engine's statements counted."""
    counter = StatementCounter()
    event.listen(Engine, "before_cursor_execute", counter)
    target = os.environ.get("BENCH_STATEMENTS_FILE")
    if target:
        atexit.register(lambda: Path(target).write_text(str(counter.count)))
    from compliance.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
