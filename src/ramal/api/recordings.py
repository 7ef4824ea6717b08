"""``GET /extrato/gravacao/id/<40 hex>``: download a call recording (contract §6).

Not an envelope endpoint: the link is "playable with a click in a browser", so it answers with the
audio itself (``audio/wav``, ``Accept-Ranges: bytes``; Starlette's FileResponse honours ``Range``,
which players use to seek) and a plain 404 when the id is unknown, expired or purged. No access
token: like the real link, the 160-bit random id is the capability.
"""

from __future__ import annotations

import asyncio
import re

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ramal.container import Container
from ramal.recordings.service import LINK_PATH
from ramal.wire.codes import Code
from ramal.wire.envelope import JSON_CONTENT_TYPE, Envelope, render_json

_RECORDING_ID = re.compile(r"[0-9a-f]{40}")


def routes(container: Container) -> list[Route]:
    async def download(request: Request) -> Response:
        recording_id = request.path_params["recording_id"].lower()
        found = None
        if _RECORDING_ID.fullmatch(recording_id):
            found = await asyncio.to_thread(container.recordings.open, recording_id)
        if found is None:
            envelope = Envelope(
                "extrato", "gravacao", "Gravacao inexistente ou expirada", Code.IDENTIFIER_NOT_FOUND
            )
            return Response(
                render_json(envelope.to_dict()), status_code=404, headers={"content-type": JSON_CONTENT_TYPE}
            )
        return FileResponse(
            found.path,
            media_type=found.content_type,
            filename=f"{recording_id}.wav",
            content_disposition_type="inline",
        )

    return [Route(LINK_PATH + "{recording_id}", download, methods=["GET", "HEAD"])]
