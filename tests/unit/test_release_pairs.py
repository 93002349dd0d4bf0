"""Release pairs (pins.json): the WordPress + WooCommerce combinations
stores run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from storefleet import releases


@pytest.fixture(autouse=True)
def _packaged_pins_only() -> Iterator[None]:
    """The packaged pins alone: a platform started in this process with an
    operator's pins file (the fleet upgrade tests pin a broken release) adds
    them process-wide."""
    saved = list(releases._EXTRA_PINS)
    releases._EXTRA_PINS.clear()
    releases._pins.cache_clear()
    yield
    releases._EXTRA_PINS[:] = saved
    releases._pins.cache_clear()


def test_the_pinned_pairs_hold_the_current_releases_and_refuse_a_mix() -> None:
    assert releases.pairs() == [("7.0.4", "11.0.1"), ("6.9.7", "10.9.4")]
    current = releases.current()
    assert (current["wordpress"], current["woocommerce"]) in releases.pairs()
    releases.check_pair("6.9.7", "10.9.4")
    with pytest.raises(releases.ReleaseError) as mixed:
        releases.check_pair("6.9.7", "11.0.1")
    assert "WordPress 6.9.7 + WooCommerce 11.0.1 is not a supported release pair" in str(
        mixed.value
    )
    assert "WordPress 7.0.4 + WooCommerce 11.0.1" in str(mixed.value)  # what is supported
    with pytest.raises(releases.ReleaseError, match="not a pinned release"):
        releases.check_pair("9.9.9", "11.0.1")


def test_an_operators_pins_add_pairs(tmp_path: Path) -> None:
    extra = tmp_path / "pins.json"
    pin = dict(releases.pinned("woocommerce", "11.0.1").__dict__)
    extra.write_text(
        json.dumps(
            {
                "pairs": [{"wordpress": "6.9.7", "woocommerce": "11.0.1"}],
                "woocommerce": {
                    "11.0.1": {
                        "file": pin["file"], "url": pin["url"], "top": pin["top"],
                        "tree_sha256": pin["tree_sha256"], "files": pin["files"],
                    }
                },
            }
        )
    )  # fmt: skip
    releases.add_pins(extra)
    try:
        releases.check_pair("6.9.7", "11.0.1")
        assert ("6.9.7", "11.0.1") in releases.pairs()
    finally:
        releases._EXTRA_PINS.remove(extra)
        releases._pins.cache_clear()
    with pytest.raises(releases.ReleaseError):
        releases.check_pair("6.9.7", "11.0.1")
