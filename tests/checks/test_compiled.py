"""resources/compiled/ holds exactly what `python -m checks.compile_resources` writes, and a
twin that no longer matches its TOML is never read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks import compile_resources
from checks.core import compiled
from checks.lib import cipher_suites, products

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "resources" / compiled.FOLDER


def test_every_compiled_file_is_current_and_none_is_left_over() -> None:
    expected = compile_resources.written()
    assert sorted(p.name for p in FOLDER.iterdir()) == sorted(expected)
    for name, text in expected.items():
        assert (FOLDER / name).read_text(encoding="utf-8") == text, (
            "run: python -m checks.compile_resources"
        )


def test_the_data_files_are_read_from_their_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled.tomllib, "loads", lambda text: pytest.fail("parsed the TOML"))
    for name in compiled.DATA_FILES:
        assert compiled.load_toml(name)


def test_a_stale_twin_is_passed_over_for_the_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / compiled.FOLDER).mkdir()
    (tmp_path / "table.toml").write_text('value = "from the TOML"\n', encoding="utf-8")
    twin = {"crc32": 1, "data": {"value": "from a stale twin"}}
    (tmp_path / compiled.FOLDER / "table.json").write_text(json.dumps(twin), encoding="utf-8")
    monkeypatch.setattr(compiled.importlib.resources, "files", lambda package: tmp_path)
    assert compiled.load_toml("table.toml") == {"value": "from the TOML"}
    (tmp_path / compiled.FOLDER / "table.json").write_text("{broken", encoding="utf-8")
    assert compiled.load_toml("table.toml") == {"value": "from the TOML"}
    # A twin made from these very bytes is believed, whatever it says.
    source = (tmp_path / "table.toml").read_bytes()
    current = {"crc32": compiled.zlib.crc32(source), "data": {"value": "from the twin"}}
    (tmp_path / compiled.FOLDER / "table.json").write_text(json.dumps(current), encoding="utf-8")
    assert compiled.load_toml("table.toml") == {"value": "from the twin"}


def test_the_parsed_data_is_the_same_either_way() -> None:
    for name, parse, load in (
        ("cipher_suites.toml", cipher_suites.parse, cipher_suites.registry),
        ("interception_products.toml", products.parse, products.load),
    ):
        text = (ROOT / "resources" / name).read_text(encoding="utf-8")
        assert parse(text) == load(), name
