"""The `compliance` command line, counting the SQL statements it sends.

The benchmark runs `python -m benchmarks.counted_cli check --at DATE` in place of `compliance
check --at DATE`: the same entry point, with one event listener that costs microseconds. The
count is written to the file named by BENCH_STATEMENTS_FILE when the process exits, and the
process's peak resident memory to the one named by BENCH_PEAK_FILE (see write_peak).
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


def write_peak(target: str) -> None:
    """Write this process's peak resident memory in kB (VmHWM) to target; run it at exit.

    The parent cannot read it from os.wait4: Linux carries the parent's ru_maxrss into a child
    at fork and across exec, so a benchmark that has synthesised a registry (~350 MB) sees at
    least its own size for every child. No reset of the high-water mark after the imports (as
    benchmarks/api.py does with clear_refs): they no longer spike (the dummy argon2id hash is
    lazy; VmHWM equals VmRSS, ~56 MB, after `import compliance.cli`), and they are part of
    what a `compliance check` process costs.
    """
    status = Path("/proc/self/status").read_text().splitlines()
    Path(target).write_text(next(line.split()[1] for line in status if line.startswith("VmHWM:")))


def main() -> None:
    """Run the command line with every engine's statements counted."""
    counter = StatementCounter()
    event.listen(Engine, "before_cursor_execute", counter)
    target = os.environ.get("BENCH_STATEMENTS_FILE")
    if target:
        atexit.register(lambda: Path(target).write_text(str(counter.count)))
    if peak := os.environ.get("BENCH_PEAK_FILE"):
        atexit.register(write_peak, peak)
    from compliance.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
