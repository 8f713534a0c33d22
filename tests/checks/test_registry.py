"""The check registry refuses what would silently lose metadata."""

from __future__ import annotations

import pytest

from conformance.checks import CHECKS
from conformance.checks._base import RuleBase, stream_rule


def test_a_stream_rule_of_a_registered_check_takes_no_metadata() -> None:
    before = dict(CHECKS)
    with pytest.raises(ValueError, match="give it only the id"):

        @stream_rule(id="USAGE-TOTAL-001", title="another title")
        class Again(RuleBase):
            pass

    assert before == CHECKS


def test_a_new_stream_rule_needs_a_title_and_a_source() -> None:
    with pytest.raises(ValueError, match="needs a title and a source"):

        @stream_rule(id="NEW-RULE-001", title="no source")
        class New(RuleBase):
            pass

    assert "NEW-RULE-001" not in CHECKS
