"""The PII detectors of governance.masking (phone, card, IBAN, alongside e-mail) and the
Presenter applying them for roles without view-PII (docs/access.md, "Masking rules")."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.masking import IBAN_LENGTHS, iban_valid, luhn_valid, mask_pii, mask_string, pii_spans
from governance.presenter import Presenter
from tests.conftest import examples

SUPPORT = Presenter(can_view_pii=False, pii=frozenset({"email"}), project_id=1)
ADMIN = Presenter(can_view_pii=True, pii=frozenset({"email"}), project_id=1)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(kind, text[s:e]) for s, e, kind in pii_spans(text)]


# ------------------------------------------------------------------ reference checks
def ref_luhn(number: str) -> bool:
    """Luhn the textbook way: double every second digit from the right, sum the digits."""
    digits = [int(c) for c in number][::-1]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def with_luhn_digit(body: str) -> str:
    return next(body + str(d) for d in range(10) if ref_luhn(body + str(d)))


def ref_iban(country: str, bban: str) -> str:
    """An IBAN with its check digits computed as ISO 13616 says (98 - mod 97 of BBAN+CC00)."""
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def test_luhn_matches_the_reference_on_known_numbers():
    for number, valid in [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("378282246310005", True),
        ("6011111111111117", True),
        ("5555555555554444", True),
        ("79927398713", True),
        ("79927398710", False),
    ]:
        assert luhn_valid(number) is valid is ref_luhn(number)


@settings(max_examples=examples(200))
@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_luhn_agrees_with_the_reference(number):
    assert luhn_valid(number) == ref_luhn(number)


# ------------------------------------------------------------------ positives
@pytest.mark.parametrize(
    "text, kind, match",
    [
        ("Call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
        ("tel +1 (415) 555-2671.", "phone", "+1 (415) 555-2671"),
        ("+491701234567", "phone", "+491701234567"),
        ("+33 6 12 34 56 78", "phone", "+33 6 12 34 56 78"),
        ("Phone: (415) 555-2671, evenings", "phone", "(415) 555-2671"),
        ("415-555-2671", "phone", "415-555-2671"),
        ("415.555.2671", "phone", "415.555.2671"),
        ("Tel: 020 7946 0958.", "phone", "020 7946 0958"),
        ("06 12 34 56 78", "phone", "06 12 34 56 78"),
        ("Festnetz 0170 1234567", "phone", "0170 1234567"),
        ("Paid with 4111 1111 1111 1111 today", "card", "4111 1111 1111 1111"),
        ("4111-1111-1111-1111", "card", "4111-1111-1111-1111"),
        ("card=5555555555554444;", "card", "5555555555554444"),
        ("Amex 3782 822463 10005", "card", "3782 822463 10005"),
        ("IBAN DE89 3704 0044 0532 0130 00, BIC", "iban", "DE89 3704 0044 0532 0130 00"),
        ("GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
        ("fr1420041010050500013m02606", "iban", "fr1420041010050500013m02606"),
        ("write to jane.doe@example.co.uk please", "email", "jane.doe@example.co.uk"),
        ("Signed in as alice@example.com. Help", "email", "alice@example.com"),
    ],
)
def test_detectors_find_pii_and_only_the_match(text, kind, match):
    assert kinds(text) == [(kind, match)]
    masked = mask_pii(text)
    assert match not in masked
    assert masked.replace("•", "") == text.replace(match, "")  # the rest stays readable


# ------------------------------------------------------------------ near misses
@pytest.mark.parametrize(
    "text",
    [
        "at 2024-01-15 12:30:45",
        "2024-01-15T12:30:45+01:00",
        "Europe/Paris +01:00",
        "posthog-js 1.449.2, Windows 10.0.19045",
        "version 0.12.34.56",
        "from 192.168.100.100 and 10.0.0.1",
        "order id 123456789",
        "user 12345678901234",
        "ts 1796131085446",  # epoch ms: 13 digits, starts with 1 (no card issuer)
        "4111 1111 1111 1112",  # Luhn fails
        "4111111111111",  # 13 digits, Luhn fails
        "41111111111111111111",  # 20 digits
        "DE89 3704 0044 0532 0130 01",  # mod-97 fails
        "DE89370400440532013",  # too short for DE
        "XX89370400440532013000",  # no such country
        "555-2671",  # too short
        "delta +12345678",  # a signed number, not 10 digits
        "Ref 2024 0115 1230 45",
        "1.2.3.4567890",
        "Your order 42 is on its way.",
        "Buy now",
    ],
)
def test_near_misses_are_left_alone(text):
    assert pii_spans(text) == []
    assert mask_pii(text) == text


# ------------------------------------------------------------------ generated
ISSUERS = ["4", "51", "55", "2221", "34", "37", "6011", "65", "35", "62"]


@settings(max_examples=examples(150))
@given(
    st.sampled_from(ISSUERS),
    st.integers(min_value=13, max_value=19),
    st.randoms(use_true_random=False),
    st.sampled_from(["", " ", "-"]),
)
def test_generated_card_numbers_are_found_and_a_wrong_check_digit_is_not(prefix, length, rng, sep):
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    number = with_luhn_digit(body)
    wrong = body + str((int(number[-1]) + 1 + rng.randrange(9)) % 10)
    assert ref_luhn(number) and not ref_luhn(wrong)

    def group(n: str) -> str:
        return sep.join(n[i : i + 4] for i in range(0, len(n), 4)) if sep and len(n) % 4 in (0, 3) else n

    text = f"paid with {group(number)} ok"
    assert kinds(text) == [("card", group(number))]
    assert number[4:12] not in mask_pii(text).replace(sep, "")
    assert [k for k, _ in kinds(f"paid with {group(wrong)} ok")] in ([], ["phone"])
    assert "card" not in [k for k, _ in kinds(f"paid with {group(wrong)} ok")]


@settings(max_examples=examples(150))
@given(st.sampled_from(sorted(IBAN_LENGTHS)), st.randoms(use_true_random=False), st.booleans())
def test_generated_ibans_are_found_and_a_wrong_check_is_not(country, rng, grouped):
    # A BBAN as countries write them: digits, some (GB, NL, MT...) after a 4-letter bank code.
    size = IBAN_LENGTHS[country] - 4
    bank = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) if rng.random() < 0.3 else ""
    bban = bank + "".join(rng.choice("0123456789") for _ in range(size - len(bank)))
    iban = ref_iban(country, bban)
    assert iban_valid(iban)
    shown = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if grouped else iban
    assert kinds(f"IBAN: {shown}.") == [("iban", shown)]
    assert bban not in mask_pii(f"IBAN: {shown}.").replace(" ", "")
    # one changed digit of the BBAN breaks mod 97 (a single substitution always does)
    i = next((j for j, c in enumerate(bban) if c.isdigit()), None)
    if i is not None:
        broken = ref_iban(country, bban)[:4] + bban[:i] + str((int(bban[i]) + 1) % 10) + bban[i + 1 :]
        assert not iban_valid(broken)
        assert "iban" not in [k for k, _ in kinds(f"IBAN: {broken}.")]


# ------------------------------------------------------------------ the Presenter
def test_presenter_masks_detected_pii_everywhere_for_support_only():
    props = {
        "note": "call me at +44 20 7946 0958",
        "$set": {"billing": "IBAN DE89 3704 0044 0532 0130 00"},
        "items": [{"memo": "card 4111 1111 1111 1111"}],
        "version": "1.449.2",
        "order": "Your order 42 is on its way.",
    }
    shown = SUPPORT.properties(props)
    text = str(shown)
    for secret in ("7946 0958", "3704 0044", "4111 1111"):
        assert secret not in text
    assert shown["version"] == "1.449.2" and shown["order"] == props["order"]
    assert shown["note"].startswith("call me at ")
    assert ADMIN.properties(props) == props
    assert SUPPORT.text("Payment failed for 4111111111111111") == "Payment failed for ••••••••••••"
    assert SUPPORT.value("phone_number_field", "(415) 555-2671") == "••••••••••••"
    assert SUPPORT.present({"details": "IBAN GB82WEST12345698765432"}) == {"details": "IBAN ••••••••••••"}
    assert mask_string("https://x.io/a?p=2 +44 20 7946 0958") == "https://x.io/a?p=• ••••••••••••"


def test_support_may_not_filter_on_a_detected_value():
    for value in ("+44 20 7946 0958", "4111 1111 1111 1111", "GB82WEST12345698765432"):
        with pytest.raises(PermissionDenied):
            SUPPORT.guard_value(value)
        ADMIN.guard_value(value)
    SUPPORT.guard_value("2024-01-15")
    SUPPORT.guard_value("123456789")


def test_path_nodes_mask_detected_pii_with_a_tag():
    from paths.masking import KIND_EVENT, NodeMasker  # noqa: PLC0415

    masker = NodeMasker(
        SUPPORT, 7, ("$pageview",), {"Support call +44 20 7946 0958": KIND_EVENT, "/pricing": KIND_EVENT}
    )
    label = masker.name("Support call +44 20 7946 0958")
    assert label.startswith("Support call •••••••••••• ‹") and "7946" not in label
    assert masker.name("/pricing") == "/pricing"


def test_stored_json_text_and_unparsable_payloads_mask_detected_pii():
    """Quarantined payloads, CSV property columns, ingestion warnings' details."""
    payload = json.dumps(
        {"event": "paid", "properties": {"memo": "IBAN GB82WEST12345698765432, tel 415-555-2671"}}
    )
    shown = SUPPORT.json_text(payload)
    assert "GB82WEST" not in shown and "555-2671" not in shown and '"memo": "IBAN ' in shown
    truncated = payload[:-3]
    assert "555-2671" not in SUPPORT._raw_text(truncated) and SUPPORT.json_text(truncated) != truncated
    assert ADMIN.json_text(payload) == payload
