"""``tarfile`` with extraction filters on every Python this project runs on.

The filters (``filter="data"``, ``tarfile.data_filter``) came in Python
3.11.4; Debian 12's Python is 3.11.2. There the standard library's module is
replaced by ``backports.tarfile`` (the same module from a later Python), so
every extraction in StoreFleet is filtered the same way everywhere.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING or sys.version_info >= (3, 11, 4):
    import tarfile
else:  # pragma: no cover - Debian 12's Python 3.11.2
    from backports import tarfile

__all__ = ["tarfile"]
