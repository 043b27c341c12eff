"""What makes an evidence file unsafe to keep or hand out beyond its type: names that run
when opened, markup a browser would run inside text or an image, a file that is two types at
once, an Office archive that would expand past reason, and characters that disguise a name."""

import io
import re
import zipfile
from pathlib import Path

from compliance.errors import Refused

# The extensions a stored file may keep for its checked type; any other is replaced by the first.
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/msword": (".doc", ".xls", ".ppt", ".msg", ".dot", ".xlt", ".pot"),
    "application/vnd.ms-excel": (".xls",),
    "application/vnd.ms-powerpoint": (".ppt",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "application/vnd.oasis.opendocument.presentation": (".odp",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/tiff": (".tif", ".tiff"),
    "text/plain": (".txt", ".text", ".csv", ".md", ".log"),
    "text/csv": (".csv", ".txt"),
    "message/rfc822": (".eml", ".txt"),
}
# Names that run when opened on a governance officer's or an inspector's computer: refused
# whatever their content, so that no such file is ever handed out from the evidence store.
SCRIPT_EXTENSIONS = frozenset(
    {
        ".vbs",
        ".vbe",
        ".js",
        ".jse",
        ".mjs",
        ".cjs",
        ".wsf",
        ".wsh",
        ".ps1",
        ".psm1",
        ".psd1",
        ".cmd",
        ".bat",
        ".com",
        ".exe",
        ".msi",
        ".msp",
        ".scr",
        ".hta",
        ".jar",
        ".sh",
        ".bash",
        ".zsh",
        ".py",
        ".pyw",
        ".pl",
        ".rb",
        ".php",
        ".lnk",
        ".url",
        ".reg",
        ".cpl",
        ".dll",
        ".sys",
        ".inf",
        ".application",
        ".appref-ms",
        ".gadget",
        ".html",
        ".htm",
        ".xhtml",
        ".svg",
        ".svgz",
        ".xml",
        ".xsl",
        ".mht",
        ".mhtml",
        ".iso",
        ".img",
        ".vhd",
        ".vhdx",
        ".docm",
        ".xlsm",
        ".pptm",
        ".dotm",
        ".xltm",
        ".potm",
        ".xlam",
        ".ppam",
    }
)
# Markup a browser would run, anywhere in a file taken as text (not only in its first bytes).
MARKUP = re.compile(
    rb"<\s*(script|html|svg|iframe|object|embed|body|meta|link|base|form|img|style|math)\b"
    rb"|<!doctype\s+html|javascript\s*:|<\?xml",
    re.IGNORECASE,
)
TEXT_TYPES = {"text/plain", "text/csv", "message/rfc822"}
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff"}
# Office files are ZIP archives: what a member list may hold before it is refused as a bomb.
OOXML_PARTS = "[Content_Types].xml"
ZIP_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": OOXML_PARTS,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": OOXML_PARTS,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": OOXML_PARTS,
    "application/vnd.oasis.opendocument.text": "mimetype",
    "application/vnd.oasis.opendocument.spreadsheet": "mimetype",
    "application/vnd.oasis.opendocument.presentation": "mimetype",
}
MAX_ARCHIVE_ENTRIES = 10_000
MAX_EXPANDED_BYTES = 200_000_000
# Characters that reorder or hide text in a name (a "gpj.exe" shown as "exe.jpg"), and controls.
BIDI_AND_CONTROLS = re.compile(
    "[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


class FileRefused(Refused):
    """An upload that is not stored, with the reason in words."""

    def __init__(self, message: str):
        super().__init__(message, field="file", status=422)


def refuse_double_nature(content: bytes, media_type: str, label: str) -> None:
    """Refuse a file that is also something else a program would open differently: text or
    an image holding markup a browser would run, a script, or anything else holding a PDF."""
    if media_type in TEXT_TYPES and content.startswith(b"#!"):
        raise FileRefused("the file is a script (it starts with #!); it is not accepted")
    if media_type in TEXT_TYPES | IMAGE_TYPES and (found := MARKUP.search(content)):
        raise FileRefused(
            f"the file holds web page markup ({found.group(0).decode('latin-1')[:20]}…) that a "
            "browser would run; save it as a PDF instead"
        )
    if media_type != "application/pdf" and b"%PDF-" in content[:1024]:
        raise FileRefused(f"the file is both a {label} and a PDF; upload one or the other")


def check_archive(content: bytes, media_type: str, label: str) -> None:
    """An Office file is a ZIP archive: it must open as one, hold the member its type requires,
    and stay within a number of members and an expanded size (the sizes its directory declares;
    nothing is decompressed here)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise FileRefused(f"the file is not a readable {label} ({exc})") from exc
    if len(members) > MAX_ARCHIVE_ENTRIES:
        raise FileRefused(
            f"the {label} holds {len(members):,} parts; at most {MAX_ARCHIVE_ENTRIES:,} are "
            "accepted"
        )
    expanded = sum(member.file_size for member in members)
    if expanded > MAX_EXPANDED_BYTES:
        raise FileRefused(
            f"the {label} would expand to {expanded / 1_000_000:,.0f} MB; at most "
            f"{MAX_EXPANDED_BYTES / 1_000_000:,.0f} MB are accepted"
        )
    if ZIP_TYPES[media_type] not in {member.filename for member in members}:
        raise FileRefused(f"the file is not a complete {label} (it has no {ZIP_TYPES[media_type]})")


def clean_name(name: str) -> str:
    """A file name without folders, control characters or the characters that reorder text."""
    return BIDI_AND_CONTROLS.sub("", Path(name.replace("\\", "/")).name).strip()


def stored_name(file_name: str | None, media_type: str) -> str:
    """The name a checked file is kept and downloaded under: cleaned, with an extension that
    fits its type (a PDF sent as "minutes.png" is kept as "minutes.pdf")."""
    name = clean_name(file_name or "") or "evidence"
    path = Path(name)
    fitting = EXTENSIONS.get(media_type, ())
    if path.suffix.lower() not in fitting and fitting:
        name = (path.stem if path.suffix else name) + fitting[0]
    return name[-255:]
