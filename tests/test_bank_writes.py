"""Writing a bank: atomic, and never over anything but an older bank (a bank's `out` is a
user's path, and the old bank's files are deleted when a new one replaces it)."""

from __future__ import annotations

import pytest

from rosetta_filter.errors import BankError
from rosetta_filter.scoring.bank import load_bank, write_bank


def test_a_bank_is_never_written_over_other_files(heads_bank, tmp_path):
    """`out` of a domains config names where a bank goes; a folder of anything else (or a
    file) is refused before a byte is written, and an older bank or an empty folder is fine."""
    bank = load_bank(heads_bank)
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    for target in (precious, precious / "thesis.tex"):
        with pytest.raises(BankError, match="not a neuron bank") as error:
            write_bank(target, bank.meta, bank.neurons, bank.pairs, heads=bank.heads)
        assert error.value.field == "out"
    assert (precious / "thesis.tex").read_text() == "years of work"
    empty = tmp_path / "empty"
    empty.mkdir()
    for target in (empty, empty):  # an empty folder, then the bank written there
        write_bank(target, bank.meta, bank.neurons, bank.pairs, heads=bank.heads)
    assert load_bank(empty).heads == bank.heads
