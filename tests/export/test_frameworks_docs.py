"""docs/frameworks.md and docs/attributes.md say what the code does."""

from __future__ import annotations

from pathlib import Path

from trajectories._internal import conventions as C
from trajectories._internal.export import frameworks as F

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "frameworks.md").read_text(encoding="utf-8")
ATTRIBUTES = (ROOT / "docs" / "attributes.md").read_text(encoding="utf-8")


def test_the_example_shown_is_the_example_file() -> None:
    shown = DOC.split("The pydantic-ai one, whole:\n\n```python\n")[1].split("```")[0]
    example = (ROOT / "examples" / "frameworks_pydantic_ai.py").read_text(encoding="utf-8")
    assert example.endswith(shown)


def test_every_reason_is_documented() -> None:
    reasons = [getattr(F, n) for n in F.__all__ if n.startswith("REASON_")]
    assert len(reasons) == 5
    for reason in reasons:
        assert f"| `{reason}` |" in DOC


def test_every_kind_and_operation_is_in_the_roles_table() -> None:
    for operation in C._GEN_AI_ROLES:
        assert f"`{operation}`" in DOC, operation
    for kind in C._OI_ROLES:
        assert f"`{kind}`" in DOC, kind
    for kind in [*C._TL_ROLES, *C._TL_REQUEST_ROLES]:
        assert f"`{kind}`" in DOC, kind


def test_every_attribute_read_is_in_attributes_md() -> None:
    section = ATTRIBUTES.split("## Agent-framework conventions")[1]
    names = {C._GEN_AI_OPERATION, C._OI_KIND, C._TL_KIND, C._TL_REQUEST_TYPE, C._TL_ENTITY, C._ERROR_TYPE}
    for keys in C._KEYS.values():
        for field in keys:
            names.update(field)
    missing = sorted(n for n in names if f"`{n}`" not in section)
    assert missing == []
