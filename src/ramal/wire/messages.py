"""Message vocabulary of the wire: the Portuguese status words ``/sms/status`` answers.

The statement (``/extrato/list-messages``) and callback payloads use the same words, so an integrator
sees one vocabulary everywhere; docs/compat.md §3 lists them.
"""

from __future__ import annotations

MESSAGE_STATUS_WORDS: dict[str, str] = {
    "queued": "na fila",
    "sent": "aguardando aparelho",
    "delivered": "entregue",
    "failed": "nao entregue",
    "canceled": "cancelada",
    "received": "recebida",
}
DIRECTION_WORDS: dict[str, str] = {"outbound": "saida", "inbound": "entrada"}
