"""Small real files of each kind, made in memory."""

import io
import struct
import zipfile
import zlib


def zipped(entries: list[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def docx() -> bytes:
    return zipped(
        [
            ("[Content_Types].xml", "<Types/>"),
            ("_rels/.rels", "<r/>"),
            ("word/document.xml", "<w:document/>"),
        ]
    )


def odt() -> bytes:
    return zipped(
        [("mimetype", "application/vnd.oasis.opendocument.text"), ("content.xml", "<x/>")]
    )


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EML = (
    b"From: clerk@example.org\r\nSubject: Board minutes\r\n"
    b"Date: Mon, 2 Jun 2025 10:00:00 +0100\r\n\r\nAttached.\r\n"
)
CSV = b"indicator,date,value\nre-referrals,2025-03-31,22.6\n"
EXE = b"MZ\x90\x00" + b"\x00" * 200
SVG = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
