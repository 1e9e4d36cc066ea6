"""The README's resource reference is the one generated from the API models: every field, nothing else."""

from __future__ import annotations

from pathlib import Path

from controller.api.reference import BEGIN, END, reference_markdown, replace_reference
from controller.api.spec import ModelRolloutSpec

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_carries_the_reference_generated_from_the_models() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_reference(text) == text, "the README's resource reference is stale: run `make reference`"


def test_every_field_of_every_object_in_spec_has_a_row() -> None:
    schema = ModelRolloutSpec.model_json_schema(by_alias=True)
    objects = [schema, *(d for d in schema.get("$defs", {}).values() if "properties" in d)]
    reference = reference_markdown()
    for obj in objects:
        for field in obj["properties"]:
            assert f"| `{field}` |" in reference, f"{field} has no row"


def test_the_reference_sits_between_its_markers_once() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1 and text.index(BEGIN) < text.index(END)
