"""Resource quantities in owned objects: where they sit, how two compare, the form the client sends.

The API accepts a quantity as a number or a string (`cpu: 0.5`, `memory: 1024`), and a user's
pod template may hold either; the official client's typed request bodies take strings only and
refuse the whole Deployment otherwise. So numbers are written as strings before a body is sent
(the server reads both the same), and live and desired values are compared by value, because
the server keeps its own canonical form (`"0.5"` comes back `500m`, `1024Mi` as `1Gi`).
"""

from __future__ import annotations

from typing import Any

from controller.kube.client import parse_quantity

__all__ = ["QUANTITY_FIELDS", "QUANTITY_MAPS", "quantities_as_strings", "same_quantity"]

# Maps whose values are all quantities (container and pod `resources`, RuntimeClass `overhead`).
QUANTITY_MAPS = frozenset({"requests", "limits", "overhead"})
# Single quantity fields (an emptyDir's size).
QUANTITY_FIELDS = frozenset({"sizeLimit"})


def same_quantity(live: Any, desired: Any) -> bool:
    """Whether two quantities are equal by value (`0.5` = `500m`, `1Gi` = `1024Mi`); False if either is not one."""
    try:
        return bool(parse_quantity(live) == parse_quantity(desired))
    except (ValueError, TypeError, ArithmeticError):
        return False


def quantities_as_strings(tree: Any) -> Any:
    """A copy of `tree` with every quantity given as a number written as a string (`0.5` -> `"0.5"`)."""
    if isinstance(tree, list):
        return [quantities_as_strings(item) for item in tree]
    if not isinstance(tree, dict):
        return tree
    copied: dict[str, Any] = {}
    for key, value in tree.items():
        if key in QUANTITY_MAPS and isinstance(value, dict):
            copied[key] = {name: _as_string(amount) for name, amount in value.items()}
        elif key in QUANTITY_FIELDS:
            copied[key] = _as_string(value)
        else:
            copied[key] = quantities_as_strings(value)
    return copied


def _as_string(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return str(value)
