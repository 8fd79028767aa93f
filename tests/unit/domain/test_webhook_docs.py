"""docs/webhooks.md shows an example body of every event type in the catalogue, and each one
parses as the versioned message the worker sends."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from domain.model.webhook import PAYLOAD_VERSION, WebhookEventType

DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def test_every_catalogue_type_has_a_documented_example_that_parses() -> None:
    text = DOC.read_text()
    examples: dict[str, dict[str, object]] = {}
    for heading, block in re.findall(r"### `([a-z_.]+)`\s+```json\n(.*?)\n```", text, re.S):
        body = json.loads(block)
        assert body["type"] == heading, heading
        examples[heading] = body
    assert set(examples) == {t.value for t in WebhookEventType}
    for name, body in examples.items():
        assert set(body) == {"type", "version", "timestamp", "data"}, name
        assert body["version"] == PAYLOAD_VERSION, name
        assert isinstance(body["data"], dict), name
        assert body["data"], name
        assert datetime.fromisoformat(str(body["timestamp"])).tzinfo is not None, name
