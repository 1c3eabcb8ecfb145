"""Heavy libraries imported on first use, not when the package is: `plan --format json` and `solve --format json`
read CSV text and write JSON, and need neither pandas (with the pyarrow it loads, about a quarter of a second of
start-up) nor pyarrow's Parquet; a table, a workbook or a batch imports them the first time it touches them.

    >>> from optimizer._lazy import LazyModule
    >>> json = LazyModule("json")
    >>> json.dumps([1])
    '[1]'
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands for the module `name` and imports it at the first attribute read."""

    def __init__(self, name: str):
        self.__dict__["_name"] = name
        self.__dict__["_module"] = None

    def _load(self) -> ModuleType:
        module = self.__dict__["_module"]
        if module is None:
            module = self.__dict__["_module"] = importlib.import_module(self.__dict__["_name"])
        return module

    def __getattr__(self, attr: str):
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_name']!r}>"


pandas = LazyModule("pandas")
pyarrow = LazyModule("pyarrow")
pyarrow_parquet = LazyModule("pyarrow.parquet")
