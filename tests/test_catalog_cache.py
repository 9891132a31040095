"""The parsed catalog kept in the user's cache directory (`i18n.read_catalog`): used
while the TOML is the same file, parsed again when it changes, and never an error when
the cache is corrupt or cannot be written."""

from __future__ import annotations

import marshal
import os
import tomllib
from pathlib import Path

from crm_tui import i18n

TOML = '[cli]\nerror = "Error"\n[cli.usage]\nusage = "Usage:"\n'


def catalog_file(tmp_path: Path, text: str = TOML) -> Path:
    source = tmp_path / "en.toml"
    source.write_text(text, encoding="utf-8")
    return source


def test_the_cache_is_what_a_second_start_reads(tmp_path: Path) -> None:
    source, cached = catalog_file(tmp_path), tmp_path / "cache" / "catalog-en.marshal"
    assert i18n.read_catalog(source, cached) == {"cli.error": "Error", "cli.usage.usage": "Usage:"}
    # the second read takes the cache, not the TOML: a text put in the cache shows
    stamp, texts = marshal.loads(cached.read_bytes())
    cached.write_bytes(marshal.dumps((stamp, {**texts, "cli.error": "from the cache"})))
    assert i18n.read_catalog(source, cached)["cli.error"] == "from the cache"


def test_a_changed_catalog_is_parsed_again(tmp_path: Path) -> None:
    source, cached = catalog_file(tmp_path), tmp_path / "catalog-en.marshal"
    i18n.read_catalog(source, cached)
    stat = source.stat()
    # same size and the same modification time: the CRC of the bytes tells them apart
    changed = TOML.replace("Error", "Fault")
    assert len(changed) == len(TOML)
    source.write_text(changed, encoding="utf-8")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert i18n.read_catalog(source, cached)["cli.error"] == "Fault"
    # and the cache now holds the new texts
    assert i18n.read_catalog(source, cached)["cli.error"] == "Fault"


def test_a_corrupt_or_foreign_cache_is_ignored_and_replaced(tmp_path: Path) -> None:
    source, cached = catalog_file(tmp_path), tmp_path / "catalog-en.marshal"
    stamp = None
    for junk in (b"", b"\x00garbage", marshal.dumps([1, 2]), marshal.dumps(("stamp", {"cli.error": "X"}))):
        cached.write_bytes(junk)
        assert i18n.read_catalog(source, cached)["cli.error"] == "Error"
        stamp, texts = marshal.loads(cached.read_bytes())
        assert texts["cli.error"] == "Error"
    # a cache with the right stamp but a text that is not a string is refused too
    cached.write_bytes(marshal.dumps((stamp, {"cli.error": 7})))
    assert i18n.read_catalog(source, cached)["cli.error"] == "Error"


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    source = catalog_file(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would be")
    cached = blocker / "catalog-en.marshal"
    for _ in range(2):
        assert i18n.read_catalog(source, cached) == {"cli.error": "Error", "cli.usage.usage": "Usage:"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.toml", "not-a-directory"]


def test_the_shipped_catalogs_read_through_the_cache_as_parsed(tmp_path: Path) -> None:
    for lang in i18n.LANGUAGES:
        source = Path(i18n.__file__).parent / "locale" / f"{lang}.toml"
        parsed = i18n._flatten(tomllib.loads(source.read_text(encoding="utf-8")))
        cached = tmp_path / f"{lang}.marshal"
        assert i18n.read_catalog(source, cached) == parsed  # parsed, then written
        assert i18n.read_catalog(source, cached) == parsed  # read from the cache
