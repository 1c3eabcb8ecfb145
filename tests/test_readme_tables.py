"""The README's 21-exchange tables are what the bundled data gives (python -m optimizer.readme_tables)."""

import pytest

from optimizer import readme_tables


def test_the_readme_tables_match_the_bundled_data():
    assert readme_tables.main(["--check"]) == 0


def test_a_table_that_no_longer_matches_is_found(tmp_path, monkeypatch):
    readme = (readme_tables.ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme_tables.MARKERS["presets"]
    stale = readme_tables.replaced(readme, "presets", "| preset | total R |\n| `cold-wallet` | 76.6 |")
    assert stale != readme and start in stale and end in stale
    (tmp_path / "README.md").write_text(stale, encoding="utf-8")
    monkeypatch.setattr(readme_tables, "ROOT", tmp_path)
    assert readme_tables.main(["--check"]) == 1
    with pytest.raises(ValueError, match="markers"):
        readme_tables.replaced("no markers here", "presets", "x")
