"""Every finding the code can emit has text and fix steps in every shipped language."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from checks import findings_doc, registry
from checks.core.models import Finding, Status
from checks.present import catalogue

ROOT = Path(__file__).resolve().parents[2]
TEXT_KEYS = ("title", "explanation")


def _texts(table: dict[str, object]) -> list[str]:
    texts = [str(table.get(k, "")) for k in TEXT_KEYS]
    for key, value in table.items():
        if key.startswith("fix") and isinstance(value, list):
            texts.extend(str(v) for v in value)
    return texts


def _finding_literals() -> set[str]:
    """Finding ids written as literals in `Finding("...")` calls anywhere in checks/."""
    ids: set[str] = set()
    for path in (ROOT / "checks").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "Finding"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                ids.add(node.args[0].value)
    return ids


def test_every_literal_finding_id_is_declared_by_a_check() -> None:
    undeclared = _finding_literals() - registry.emitted_findings().keys()
    assert not undeclared


@pytest.mark.parametrize("lang", catalogue.LANGUAGES)
def test_every_declared_finding_and_variant_has_text(lang: str) -> None:
    table = catalogue.finding_texts(lang)
    for finding_id, variants in registry.emitted_findings().items():
        assert finding_id in table, f"{finding_id} has no {lang} text"
        entry = table[finding_id]
        assert entry.get("title"), f"{finding_id} has no {lang} title"
        assert "explanation" in entry, f"{finding_id} has no {lang} explanation"
        assert isinstance(entry.get("fix", []), list)
        for variant in variants:
            assert variant in entry.get("variants", {}), f"{finding_id}/{variant} ({lang})"


def test_problem_findings_have_fix_steps_in_every_language() -> None:
    # A warning or failure without steps would leave the user with nothing to do.
    for lang in catalogue.LANGUAGES:
        for finding_id, variants in registry.emitted_findings().items():
            for variant in (None, *variants):
                entry = catalogue.entry(finding_id, lang, variant)
                assert entry is not None
                if finding_id.split(".")[1] in ("failed", "refused", "timeout", "unreachable"):
                    assert entry.get("fix"), f"{finding_id}/{variant} ({lang}) has no fix steps"


@pytest.mark.parametrize("surface", catalogue.SURFACES)
def test_translations_use_the_same_placeholders_as_english(surface: catalogue.Surface) -> None:
    for lang in catalogue.LANGUAGES:
        for finding_id, variants in registry.emitted_findings().items():
            for variant in (None, *variants):
                base = catalogue.entry(finding_id, "en", variant, surface)
                entry = catalogue.entry(finding_id, lang, variant, surface)
                assert base is not None
                assert entry is not None
                where = f"{finding_id}/{variant} ({lang}, {surface})"
                for key in TEXT_KEYS:
                    assert catalogue.placeholders(str(entry.get(key, ""))) == (
                        catalogue.placeholders(str(base.get(key, "")))
                    ), where
                en_names = set().union(*map(catalogue.placeholders, _texts(base)))
                names = set().union(*map(catalogue.placeholders, _texts(entry)))
                assert names == en_names, f"{where}: fix placeholders differ"


# Options the window has a control of its own for (Settings): its texts name the control.
WINDOW_CONTROLLED_OPTIONS = ("--offline", "--ntp-server", "--canary", "--connect-timeout")
# Findings that only a command-line option can cause; the window never shows them.
CLI_ONLY_FINDINGS = {"dns.pinned"}


def test_the_window_names_its_own_controls_not_command_line_options() -> None:
    for lang in catalogue.LANGUAGES:
        for finding_id, variants in registry.emitted_findings().items():
            if finding_id in CLI_ONLY_FINDINGS:
                continue
            for variant in (None, *variants):
                for os_name in catalogue.OS_NAMES:
                    params = {"variant": variant} if variant else {}
                    finding = Finding(finding_id, Status.WARN, params)
                    text = catalogue.render(finding, lang=lang, os_name=os_name, surface="window")
                    words = " ".join((text.title, text.explanation, *text.fix, *text.fix_admin))
                    named = [o for o in WINDOW_CONTROLLED_OPTIONS if o in words]
                    assert not named, f"{finding_id}/{variant} ({lang}, {os_name}): {named}"


def test_a_window_table_replaces_only_what_it_words_differently() -> None:
    offline = Finding("clock.unverified", Status.WARN, {"variant": "offline"})
    cli = catalogue.render(offline, lang="en", surface="cli")
    window = catalogue.render(offline, lang="en", surface="window")
    assert "--offline" in cli.title
    assert window.title.endswith("(Offline is on)")
    assert window.fix[0] == cli.fix[0]
    assert "Settings" in window.fix[1]
    blocked = catalogue.render(
        Finding("clock.unverified", Status.WARN), lang="en", surface="window"
    )
    assert (
        blocked.explanation
        == catalogue.render(Finding("clock.unverified", Status.WARN), lang="en").explanation
    )


def test_no_language_has_ids_english_lacks() -> None:
    english = set(catalogue.finding_texts("en"))
    for lang in catalogue.LANGUAGES:
        assert set(catalogue.finding_texts(lang)) == english
        assert set(catalogue.ui_texts(lang)) == set(catalogue.ui_texts("en"))


def test_every_check_has_a_name_in_every_language() -> None:
    for lang in catalogue.LANGUAGES:
        for check in registry.all_checks():
            assert f"check_name.{check.id}" in catalogue.ui_texts(lang)


def test_render_fills_params_variants_and_os_steps() -> None:
    finding = Finding(
        "dns.failed",
        Status.FAIL,
        {"host": "example.test", "variant": "timeout", "elapsed_ms": 3000},
    )
    windows = catalogue.render(finding, lang="en", os_name="windows")
    linux = catalogue.render(finding, lang="en", os_name="linux")
    assert "3000" in windows.title
    assert any("ipconfig /flushdns" in step for step in windows.fix)
    assert not any("ipconfig" in step for step in linux.fix)
    chinese = catalogue.render(finding, lang="zh_CN", os_name="linux")
    assert "域名服务器" in chinese.title


def test_a_missing_param_renders_as_a_question_mark_not_a_crash() -> None:
    text = catalogue.render(Finding("tcp.refused", Status.FAIL, {}), lang="en", os_name="linux")
    assert "?" in text.title


def test_language_names_are_normalised() -> None:
    assert catalogue.normalise_language("zh-CN") == "zh_CN"
    assert catalogue.normalise_language("zh_CN.UTF-8") == "zh_CN"
    assert catalogue.normalise_language("EN") == "en"
    with pytest.raises(ValueError, match="fr"):
        catalogue.normalise_language("fr")


def test_findings_doc_is_current() -> None:
    current = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    assert current == findings_doc.markdown(), (
        "run: python -m checks.findings_doc > docs/findings.md"
    )


def _eager(folder: str, lang: str) -> dict[str, object]:
    """Every file of `resources/<folder>/<lang>` parsed and merged at once, as a reference."""
    import tomllib

    merged: dict[str, object] = {}
    for path in sorted((ROOT / "resources" / folder / lang).glob("*.toml")):
        catalogue._merge(merged, tomllib.loads(path.read_text(encoding="utf-8")), path.name)
    return merged


@pytest.mark.parametrize("lang", catalogue.LANGUAGES)
def test_each_text_read_lazily_is_the_text_read_eagerly(lang: str) -> None:
    import tomllib

    for folder in ("findings", "ui"):
        tables = catalogue._Tables(catalogue._folder(folder, lang), f"{folder}/{lang}")
        tables.need("")  # reads and indexes the files, parses none
        assert not tables.parsed
        # The header index must lead to every file that defines a part of each top-level key.
        for path in sorted((ROOT / "resources" / folder / lang).glob("*.toml")):
            for key in tomllib.loads(path.read_text(encoding="utf-8")):
                led_to = {*tables._index.get(key, ()), *tables._always}
                assert path.name in led_to, (folder, lang, key)
        eager = _eager(folder, lang)
        assert dict(tables) == eager
    words = catalogue._flatten(_eager("ui", lang))
    for top in {key.split(".")[0] for key in words}:
        fresh = catalogue._Flat(catalogue._Tables(catalogue._folder("ui", lang), "ui"))
        for key in (k for k in words if k.split(".")[0] == top):
            assert fresh.get(key) == words[key], key
    assert dict(catalogue.ui_texts(lang)) == words


def test_a_finding_is_read_from_its_own_files_only() -> None:
    table = catalogue._Tables(catalogue._folder("findings", "en"), "findings/en")
    assert table.get("tcp.refused") is not None
    assert table.get("no.such_id") is None
    assert table.parsed == {"tcp.toml"}
    words = catalogue._Flat(catalogue._Tables(catalogue._folder("ui", "en"), "ui/en"))
    assert words["status.fail"]
    assert "decoder.toml" not in words._tables.parsed


def test_a_file_whose_keys_the_index_cannot_tell_is_always_read(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('["a.one"]\ntitle = "A"\n', encoding="utf-8")
    # A key before the first table, and a quoted key with an escape the index does not read.
    (tmp_path / "b.toml").write_text('loose = "L"\n["b.two"]\ntitle = "B"\n', encoding="utf-8")
    (tmp_path / "c.toml").write_text('["c\\u002Ethree"]\ntitle = "C"\n', encoding="utf-8")
    (tmp_path / "d.toml").write_text(
        '["d.four"]\ntitle = "D"\n["a.one".variants.x]\ntitle = "AX"\n', encoding="utf-8"
    )
    table = catalogue._Tables(tmp_path, "test")
    assert table["a.one"] == {"title": "A", "variants": {"x": {"title": "AX"}}}
    assert table.parsed == {"a.toml", "b.toml", "c.toml", "d.toml"}
    fresh = catalogue._Tables(tmp_path, "test")
    assert fresh["c.three"] == {"title": "C"}
    assert fresh["loose"] == "L"
    assert "d.toml" not in fresh.parsed


def test_a_text_defined_twice_is_an_error_at_every_use(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('["x.y"]\ntitle = "A"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('["x.y"]\ntitle = "B"\n', encoding="utf-8")
    table = catalogue._Tables(tmp_path, "test")
    for _ in range(2):
        with pytest.raises(ValueError, match=r"test/b.toml repeats x.y.title"):
            table.get("x.y")


def test_compiled_texts_are_used_only_for_the_files_they_were_made_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.toml").write_text('["a.one"]\ntitle = "A"\n', encoding="utf-8")
    sources = catalogue._checksums(catalogue._sources(tmp_path))
    ahead = {"a.one": {"title": "A, parsed ahead"}}
    stale = {**sources, "a.toml": sources["a.toml"] + 1}
    assert catalogue._Tables(tmp_path, "test", (stale, ahead))["a.one"] == {"title": "A"}
    assert catalogue._Tables(tmp_path, "test", ({}, ahead))["a.one"] == {"title": "A"}
    monkeypatch.setattr(catalogue.tomllib, "loads", lambda text: pytest.fail("parsed"))
    current = catalogue._Tables(tmp_path, "test", (sources, ahead))
    assert current["a.one"] == {"title": "A, parsed ahead"}
    assert dict(current) == ahead


def test_the_shipped_texts_are_read_from_their_compiled_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(catalogue.tomllib, "loads", lambda text: pytest.fail("parsed"))
    for lang in catalogue.LANGUAGES:
        assert catalogue._tables("findings", lang)["tcp.refused"]["title"]
        assert catalogue._Flat(catalogue._tables("ui", lang))["status.fail"]
