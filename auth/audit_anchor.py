"""The audit chain's daily anchor (docs/audit.md): a day's chain head as a JWS (RFC 7515,
flattened JSON serialization, RS256), signed with the license key, whose public key
``provision license public-key`` prints and every GitLab instance we license already holds.

Anyone can check an anchor without us: the signature is RSASSA-PKCS1-v1_5 with SHA-256 over
``protected + "." + payload`` (both base64url, as in the file).
"""

from __future__ import annotations

import json
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.jws import FlattenedJSONSerialization

from domain.model.audit_chain import FORMAT, ChainHead

ALGORITHM = "RS256"
TYPE = "provision-audit-anchor+json"


class AnchorInvalid(ValueError):
    """The file is not an anchor our key signed; the message says why."""


def sign_anchor(payload: dict[str, Any], private_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The anchor file's content: ``payload`` signed as a flattened JWS."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    signed = jws.serialize_json(
        {"protected": {"alg": ALGORITHM, "typ": TYPE}},
        body,
        RSAKey.import_key(private_key),
        algorithms=[ALGORITHM],
    )
    return dict(signed)


def anchor_payload(
    day: str, heads: list[tuple[str, ChainHead, str | None]], entries_that_day: int,
    exported_at: str,
) -> dict[str, Any]:  # fmt: skip
    """What an anchor signs: each chain's head (chain, head, its entry's id) at ``day``'s end."""
    return {
        "format": FORMAT,
        "date": day,
        "heads": [
            {"chain": chain, "sequence": head.sequence, "hash": head.hash, "entryId": entry_id}
            for chain, head, entry_id in heads
        ],
        "entriesThatDay": entries_that_day,
        "exportedAt": exported_at,
    }


def read_anchor(document: Any, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The payload of an anchor file, once its signature checks out with ``public_key``."""
    if not isinstance(document, dict) or not {"protected", "payload", "signature"} <= set(document):
        raise AnchorInvalid("not a JWS in flattened JSON (protected, payload, signature)")
    try:
        flattened = cast(FlattenedJSONSerialization, document)
        signature = jws.deserialize_json(
            flattened,
            RSAKey.import_key(public_key),
            algorithms=[ALGORITHM],
        )
    except (JoseError, ValueError, TypeError) as error:
        raise AnchorInvalid(f"the signature does not verify with our key ({error})") from None
    try:
        payload = json.loads(signature.payload)
    except ValueError:
        raise AnchorInvalid("the signed payload is not JSON") from None
    heads = payload.get("heads") if isinstance(payload, dict) else None
    if (
        not isinstance(payload, dict)
        or payload.get("format") != FORMAT
        or not isinstance(heads, list)
        or not all(
            isinstance(h, dict)
            and isinstance(h.get("chain"), str)
            and isinstance(h.get("sequence"), int)
            and isinstance(h.get("hash"), str)
            for h in heads
        )
    ):
        raise AnchorInvalid(f"the signed payload is not a {FORMAT} anchor")
    return payload


def anchored_heads(payload: dict[str, Any]) -> dict[str, ChainHead]:
    """Each chain's head as the (verified) anchor signed it."""
    return {h["chain"]: ChainHead(int(h["sequence"]), str(h["hash"])) for h in payload["heads"]}
