"""Reading a CSV file sent to the API: as the request body (text/csv), or as the `file` field of a
multipart form, never more than the upload limit."""

from fastapi import Request
from starlette.datastructures import UploadFile

from compliance.deps import SettingsDep
from compliance.errors import Refused


async def csv_upload(request: Request, settings: SettingsDep) -> bytes:
    """The CSV file of an import: the request body as text/csv, or a multipart form's `file`."""
    limit = settings.max_upload_bytes
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Refused(
                "Send the CSV file as the form field 'file'", field="body.file", status=422
            )
        data = await upload.read(limit + 1)
    elif media in {"text/csv", "application/csv"}:
        received = bytearray()
        async for chunk in request.stream():
            received += chunk
            if len(received) > limit:
                break
        data = bytes(received)
    else:
        raise Refused(
            "Send the file as the request body with Content-Type text/csv, or as the field "
            "'file' of a multipart/form-data upload",
            field="body",
            status=415,
        )
    if len(data) > limit:
        raise Refused(f"The file is larger than the {limit:,} byte limit", field="body", status=413)
    return data


CSV_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "indicator,date,value,source\n1,2026-06-30,93.4,SAC quarter 1 2026-27\n"
                '2,2026-06-30,22.9,"CIN census, quarter 1 2026-27"\n',
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}
