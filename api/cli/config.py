"""``provision config``: the effective settings, where each came from, secrets masked."""

from __future__ import annotations

import json

from api.settings import Settings


def print_config(settings: Settings, *, as_json: bool) -> int:
    rows = settings.effective()
    if as_json:
        print(
            json.dumps(
                [{"name": name, "value": value, "source": source} for name, value, source in rows],
                indent=2,
            )
        )
        return 0
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        print(f"{name:<{width}}  {value or '-':<40}  ({source})")
    return 0
