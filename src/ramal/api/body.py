"""Reading a request into :class:`Params`, with size limits enforced before anything is buffered."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from ramal.wire.errors import parameter_error
from ramal.wire.params import Params, UploadedFile, build_params, decode_urlencoded

MAX_MULTIPART_FIELDS = 1_000
MAX_MULTIPART_FILES = 4


async def read_params(request: Request, *, max_form_bytes: int, max_upload_bytes: int) -> Params:
    """Query string, then the body (urlencoded or multipart); the body wins on a shared name."""
    raw_query: bytes = request.scope.get("query_string", b"")
    query = decode_urlencoded(raw_query) if raw_query else []
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "multipart/form-data":
        body = await _read_limited(request, max_upload_bytes)
        fields, files = await _parse_multipart(request, body)
        return build_params([query, fields], files)
    if content_type in ("application/json", "text/json"):
        raise parameter_error(
            "Corpo JSON nao suportado neste endpoint: envie application/x-www-form-urlencoded"
        )
    body = await _read_limited(request, max_form_bytes)
    return build_params([query, decode_urlencoded(body)])


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise parameter_error(f"Requisicao excede o limite de {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a lying or absent Content-Length: stop reading at the limit
            raise parameter_error(f"Requisicao excede o limite de {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _parse_multipart(
    request: Request, body: bytes
) -> tuple[list[tuple[str, str]], dict[str, UploadedFile]]:
    async def replay() -> AsyncGenerator[bytes, None]:
        yield body
        yield b""

    parser = MultiPartParser(
        request.headers, replay(), max_files=MAX_MULTIPART_FILES, max_fields=MAX_MULTIPART_FIELDS
    )
    try:
        form = await parser.parse()
    except (MultiPartException, ValueError, UnicodeDecodeError) as error:
        raise parameter_error(f"Corpo multipart invalido: {error}") from None
    fields: list[tuple[str, str]] = []
    files: dict[str, UploadedFile] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            files[name] = UploadedFile(value.filename or "", value.content_type or "", data)
            await value.close()
        else:
            fields.append((name, value))
    return fields, files
