"""Asterisk cdr_csv lines for tests, written the way Asterisk writes them."""

from __future__ import annotations

COLUMNS = [
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
    "peeraccount",
    "linkedid",
    "sequence",
]
UNQUOTED = {"duration", "billsec", "sequence"}
DEFAULTS = {
    "accountcode": "acme",
    "src": "1001",
    "dst": "5541999990001",
    "dcontext": "from-internal",
    "clid": '"Joao" <1001>',
    "channel": "SIP/1001-00000001",
    "dstchannel": "SIP/trunk-00000002",
    "lastapp": "Dial",
    "lastdata": "SIP/trunk/5541999990001,60,tT",
    "start": "2026-11-02 09:15:00",
    "answer": "2026-11-02 09:15:07",
    "end": "2026-11-02 09:17:07",
    "duration": "127",
    "billsec": "120",
    "disposition": "ANSWERED",
    "amaflags": "DOCUMENTATION",
    "uniqueid": "1762074900.1",
    "userfield": "",
    "peeraccount": "",
    "linkedid": "1762074900.1",
    "sequence": "7",
}


def cdr_line(columns: int = 18, **values: str) -> str:
    """A line as cdr_csv writes it: strings quoted with inner quotes doubled, numbers and an empty
    answer unquoted."""
    fields = []
    for name in COLUMNS[:columns]:
        value = values.get(name, DEFAULTS[name])
        bare = name in UNQUOTED or (name == "answer" and value == "")
        fields.append(value if bare else '"' + value.replace('"', '""') + '"')
    return ",".join(fields) + "\n"
