"""%kafka show reaches the widgets of kafkabook.viz through the same dispatcher."""

from __future__ import annotations


def test_show_help_lists_the_widgets(shell):
    text = str(shell.run_line_magic("kafka", "show --help"))
    assert text.startswith("usage: %kafka show")
    for widget in ("cluster", "hashing", "offsets", "groups", "timeline"):
        assert widget in text


def test_help_names_show(shell):
    assert "show" in str(shell.run_line_magic("kafka", "help"))
