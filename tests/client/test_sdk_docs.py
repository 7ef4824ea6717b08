"""docs/sdk.md stays true: its Python examples compile and its method table names real methods."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ramal.client import AsyncClient, Client

DOC = (Path(__file__).parents[2] / "docs" / "sdk.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, flags=re.DOTALL)


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_examples_compile(source: str) -> None:
    compile(source, "docs/sdk.md", "exec")


def test_every_documented_method_exists_on_both_clients() -> None:
    table = DOC.split("### Methods", 1)[1].split("Statement filters", 1)[0]
    names = set(re.findall(r"^\| `(\w+)\(", table, flags=re.MULTILINE))
    names |= set(re.findall(r" / `(\w+)\(", table))
    assert len(names) == 21
    for name in names:
        assert callable(getattr(Client, name)), name
        assert callable(getattr(AsyncClient, name)), name
