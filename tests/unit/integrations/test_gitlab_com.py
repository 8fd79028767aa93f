"""The GitLab.com adapter's section bookkeeping: what a retry sends, and how answers read."""

from __future__ import annotations

from integrations.gitlab_com.client import section_outcomes, sections_to_send

BODY = {"base_product": {"seats": 5}, "storage": {"size": 1}, "compute_minutes": {"m": 1}}


def test_the_first_attempt_sends_every_section() -> None:
    assert sections_to_send({"provision": BODY}) == BODY


def test_a_retry_sends_only_what_has_not_succeeded() -> None:
    payload = {
        "provision": BODY,
        "results": [
            {"sections": {"base_product": {"status": "success"}, "storage": {"status": "error"}}},
            {
                "sections": {
                    "storage": {"status": "error"},
                    "compute_minutes": {"status": "success"},
                }
            },
        ],
    }
    assert sections_to_send(payload) == {"storage": {"size": 1}}
    payload["results"].append({"sections": {"storage": {"status": "success"}}})
    assert sections_to_send(payload) == {}


def test_a_200_without_details_means_every_section_succeeded() -> None:
    assert section_outcomes(BODY, 200, {"status": "success"}) == {
        name: {"status": "success"} for name in BODY
    }


def test_a_422_reads_its_sections_and_an_old_style_422_fails_them_all() -> None:
    answer = {
        "message": "some failed",
        "payload": {
            "base_product": {"status": "success"},
            "storage": {"status": "error", "message": "x" * 1000},
        },
    }
    outcomes = section_outcomes(BODY, 422, answer)
    assert outcomes["base_product"] == {"status": "success"}
    assert outcomes["storage"]["status"] == "error"
    assert len(outcomes["storage"]["message"]) == 300  # cut short
    assert outcomes["compute_minutes"] == {"status": "error", "message": "some failed"}
    old = section_outcomes(BODY, 422, {"message": "Seats must be positive"})
    assert {o["status"] for o in old.values()} == {"error"}
    assert section_outcomes(BODY, 422, "not json")["storage"] == {"status": "error"}
