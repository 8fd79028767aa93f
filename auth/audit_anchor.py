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

from domain.model.audit_chain import CHAIN, FORMAT, ChainHead

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
    day: str, head: ChainHead, entry_id: str | None, entries_that_day: int, exported_at: str
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "chain": CHAIN,
        "date": day,
        "sequence": head.sequence,
        "hash": head.hash,
        "entryId": entry_id,
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
    if (
        not isinstance(payload, dict)
        or payload.get("format") != FORMAT
        or payload.get("chain") != CHAIN
        or not isinstance(payload.get("sequence"), int)
        or not isinstance(payload.get("hash"), str)
    ):
        raise AnchorInvalid(f"the signed payload is not a {FORMAT} anchor of the {CHAIN} chain")
    return payload


def anchored_head(payload: dict[str, Any]) -> ChainHead:
    return ChainHead(int(payload["sequence"]), str(payload["hash"]))
