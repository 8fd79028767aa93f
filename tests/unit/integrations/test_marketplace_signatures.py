"""The marketplace adapters' own checks, without a network: SNS signatures (SignatureVersion
2 over the canonical string, the certificate URL's host), Stripe signatures (any v1, the 300 s
tolerance), and Azure's operation confirmation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from integrations.marketplaces.aws import (
    NotificationForged,
    canonical_string,
    load_certificate,
    signing_host_allowed,
    verify_notification,
)
from integrations.marketplaces.azure import confirms
from integrations.marketplaces.stripe import SignatureRefused, sign, verify_signature

PEER = "http://127.0.0.1:9000"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _message(key: rsa.RSAPrivateKey, **overrides: str) -> dict[str, str]:
    message = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:1:topic",
        "Message": '{"action": "entitlement-updated"}',
        "Timestamp": "2026-03-01T12:00:00.000Z",
        "SignatureVersion": "2",
        "SigningCertURL": f"{PEER}/cert.pem",
    }
    signature = key.sign(canonical_string(message), padding.PKCS1v15(), hashes.SHA256())
    message["Signature"] = base64.b64encode(signature).decode()
    message.update(overrides)
    return message


def test_the_canonical_string_is_snss() -> None:
    message = {"Type": "Notification", "MessageId": "a", "Message": "m", "Timestamp": "t",
               "TopicArn": "arn", "Signature": "ignored", "Subject": "s"}  # fmt: skip
    assert canonical_string(message) == (
        b"Message\nm\nMessageId\na\nSubject\ns\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n"
    )


def test_a_signed_notification_verifies_and_any_change_does_not(key: rsa.RSAPrivateKey) -> None:
    public = load_certificate(_pem(key))
    verify_notification(_message(key), public, PEER)
    for tampered in (
        {"Message": '{"action": "unsubscribe-success"}'},
        {"MessageId": "m-2"},
        {"SignatureVersion": "1"},
        {"Signature": "not base64!"},
        {"SigningCertURL": "https://evil.example/cert.pem"},
    ):
        with pytest.raises(NotificationForged):
            verify_notification(_message(key, **tampered), public, PEER)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(NotificationForged, match="does not verify"):
        verify_notification(_message(other), public, PEER)


def test_the_certificate_url_is_the_peers_or_snss_over_https() -> None:
    assert signing_host_allowed(f"{PEER}/c.pem", PEER)
    assert signing_host_allowed("https://sns.eu-west-1.amazonaws.com/c.pem", PEER)
    assert not signing_host_allowed("http://sns.eu-west-1.amazonaws.com/c.pem", PEER)
    assert not signing_host_allowed("https://sns.eu-west-1.amazonaws.com.evil.test/c.pem", PEER)
    assert not signing_host_allowed("https://127.0.0.1:9001/c.pem", PEER)


def test_stripe_signatures() -> None:
    body, secret, t = b'{"id": "evt_1"}', "whsec_abc", int(NOW.timestamp())
    verify_signature(sign(body, secret, t), body, secret, NOW)
    rotated = f"t={t},v1={'0' * 64},{sign(body, secret, t).split(',')[1]}"
    verify_signature(rotated, body, secret, NOW)  # any v1 may match
    verify_signature(sign(body, secret, t - 300), body, secret, NOW)
    refused = {
        "stale": sign(body, secret, t - 301),
        "future": sign(body, secret, t + 301),
        "other secret": sign(body, "whsec_other", t),
        "other body": sign(b"{}", secret, t),
        "no v1": f"t={t}",
        "no t": sign(body, secret, t).split(",")[1],
        "bad t": "t=soon,v1=00",
    }
    for header in refused.values():
        with pytest.raises(SignatureRefused):
            verify_signature(header, body, secret, NOW)
    with pytest.raises(SignatureRefused):
        verify_signature(None, body, secret, NOW)


def test_an_azure_webhook_must_match_its_operation() -> None:
    operation = {"id": "op", "subscriptionId": "s", "action": "ChangeQuantity", "quantity": 5}
    assert confirms(operation, dict(operation))
    assert confirms(operation, {"id": "op", "subscriptionId": "s", "action": "ChangeQuantity"})
    assert not confirms(operation, {**operation, "quantity": 50})
    assert not confirms(operation, {**operation, "action": "Unsubscribe"})
    assert not confirms(operation, {**operation, "subscriptionId": "t"})
