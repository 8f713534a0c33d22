"""spec/deepseek-chat-completions.yaml is the seed's YAML block, byte for byte."""

from __future__ import annotations

import hashlib
import re

from tests.helpers import SEED, SPEC

SHA256 = "1ed4ada0008e08cbed676ff2b7d2ca2b6f69ca2a000405e339850911c281efab"


def test_spec_sha256_is_pinned() -> None:
    assert hashlib.sha256(SPEC.read_bytes()).hexdigest() == SHA256


def test_spec_is_the_seed_yaml_block() -> None:
    seed = SEED.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", seed, re.S)
    assert block is not None
    assert SPEC.read_bytes() == block.group(1).encode("utf-8")
