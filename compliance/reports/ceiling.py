"""A ceiling on each report render: WeasyPrint lays out and writes the PDF in a child process that
is stopped when it runs past COMPLIANCE_REPORT_RENDER_SECONDS or its memory passes
COMPLIANCE_REPORT_RENDER_MEMORY_MB, so that one enormous report cannot hold a web process, or
the machine's memory, however large the data behind it grows.

The children come from a fork server started once per process with WeasyPrint already imported:
each render forks from that small single-threaded process (quick, and safe beside the web
server's threads), and a child stopped at the ceiling takes nothing of the server with it.
Memory is the child's resident set, read from /proc while it runs (Linux); where there is no
/proc only the time is bounded.
"""

import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from compliance.config import Ceiling as Ceiling  # where the setting lives; kept importable here
from compliance.errors import Refused

POLL_SECONDS = 0.1
_start_lock = threading.Lock()
_context: multiprocessing.context.ForkServerContext | None = None


class RenderCeiling(Refused):
    """A render passed its ceiling and was stopped; nothing was stored."""

    def __init__(self, message: str):
        super().__init__(message, status=503)


def _fork_server() -> multiprocessing.context.ForkServerContext:
    global _context
    with _start_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["weasyprint", "compliance.reports.pdf"])
            _context = context
    return _context


def _render_in_child(html: str, out: Connection) -> None:
    from compliance.reports.pdf import write_pdf

    try:
        pdf = write_pdf(html, on_stage=lambda stage: out.send(("stage", stage)))
        out.send(("pdf", pdf))
    except MemoryError:
        out.send(("memory", ""))
    except Exception as exc:  # the parent raises it: the child's traceback is logged here
        import logging

        logging.getLogger(__name__).exception("report render failed")
        out.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        out.close()


def _resident_mb(pid: int) -> float:
    """A process's resident memory in MB; 0 where /proc cannot say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def too_long(seconds: int) -> str:
    return (
        f"The report was stopped after {seconds} seconds without finishing "
        "(COMPLIANCE_REPORT_RENDER_SECONDS): nothing was stored. Ask for a narrower report, for "
        "example one body or partnership rather than a whole area, or an earlier as-at date; "
        "or ask the administrator to raise the limit"
    )


def too_big(memory_mb: int) -> str:
    return (
        f"The report was stopped when it needed more than {memory_mb:,} MB of memory "
        "(COMPLIANCE_REPORT_RENDER_MEMORY_MB): nothing was stored. Ask for a narrower report, "
        "for example one body or partnership rather than a whole area; or ask the "
        "administrator to raise the limit"
    )


def render_within(
    html: str, *, ceiling: Ceiling, on_stage: Callable[[str], None] | None = None
) -> bytes:
    """The PDF of a report's HTML, rendered in a child process within `ceiling`; RenderCeiling
    past it (the child is stopped), RuntimeError if the render itself fails."""
    stage = on_stage or (lambda _: None)
    context = _fork_server()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_render_in_child, args=(html, sender), daemon=True)
    child.start()
    sender.close()
    deadline = time.monotonic() + ceiling.seconds
    try:
        while True:
            if receiver.poll(POLL_SECONDS):
                try:
                    kind, value = receiver.recv()
                except EOFError:  # the child ended without an answer: killed, most likely OOM
                    raise RenderCeiling(too_big(ceiling.memory_mb)) from None
                if kind == "stage":
                    stage(value)
                elif kind == "pdf":
                    return value
                elif kind == "memory":
                    raise RenderCeiling(too_big(ceiling.memory_mb))
                else:
                    raise RuntimeError(f"the report could not be rendered: {value}")
            elif time.monotonic() > deadline:
                raise RenderCeiling(too_long(ceiling.seconds))
            elif _resident_mb(child.pid) > ceiling.memory_mb:  # type: ignore[arg-type]  # started, so it has a pid
                raise RenderCeiling(too_big(ceiling.memory_mb))
    finally:
        if child.is_alive():
            child.kill()
        child.join(timeout=10)
        receiver.close()
