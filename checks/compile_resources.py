"""Writes resources/compiled/: the texts of each language and the data files, parsed ahead
(`python -m checks.compile_resources`, after editing any TOML of resources/; a test says when)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from checks.core import compiled
from checks.present import catalogue


def written() -> dict[str, str]:
    """File name in resources/compiled/ -> the text it must hold now."""
    out = {f"{lang}.json": catalogue.compiled_json(lang) for lang in catalogue.LANGUAGES}
    for name in compiled.DATA_FILES:
        out[name.removesuffix(".toml") + ".json"] = compiled.compile_toml(name)
    return out


def main() -> None:
    folder = Path(str(importlib.resources.files("resources").joinpath(compiled.FOLDER)))
    folder.mkdir(exist_ok=True)
    for name, text in written().items():
        (folder / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
