"""Password reset and invitation emails: the link, the expiry, escaped names, nothing else."""

from __future__ import annotations

import pytest

from shared.email.content import AccountLinkEmail, Sender
from shared.email.render import render_account_link

LINK = "https://attune.example/account/reset/abcDEF123_-xyz"


def _email(**changes: str) -> AccountLinkEmail:
    values = {
        "to_address": "casey@harbour.example.com",
        "sender": Sender(display_name="Harbour Team", address="no-reply@attune.example"),
        "subject": "Choose a new password for Attune",
        "person_name": "Casey <b>Clinician</b>",
        "practice_name": "A & B <Clinic>",
        "action_url": LINK,
        "valid_for": "1 hour",
    }
    values.update(changes)
    return AccountLinkEmail(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("template", ["password_reset", "clinician_invitation"])
def test_both_parts_carry_the_link_and_its_expiry(template: str) -> None:
    rendered = render_account_link(_email(), template)
    for part in (rendered.text, rendered.html):
        assert LINK in part
        assert "1 hour" in part
    assert f'href="{LINK}"' in rendered.html
    assert "A &amp; B &lt;Clinic&gt;" in rendered.html
    assert "<b>Clinician</b>" not in rendered.html
    assert "A & B <Clinic>" in rendered.text  # plain text is not HTML-escaped
    assert "<!DOCTYPE html>" in rendered.html  # the shared layout


def test_a_link_that_could_break_out_is_refused() -> None:
    with pytest.raises(ValueError):
        render_account_link(_email(action_url="javascript:alert(1)"), "password_reset")
    with pytest.raises(ValueError):
        render_account_link(_email(action_url=LINK + '"><script>'), "password_reset")
