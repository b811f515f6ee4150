"""Specification of the one redaction of credentials from URLs: what a message may keep of a URL, and that
no user, password, query parameter or fragment of any URL survives in it, alone or inside a backend's text."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from headwater.connectors.redaction import URL_PLACEHOLDER, redact_url, redact_urls


def test_a_url_keeps_its_scheme_host_port_and_path() -> None:
    assert redact_url("https://u:p@host:8443/a/b?token=t#f") == "https://host:8443/a/b"


def test_an_ipv6_host_keeps_its_brackets() -> None:
    assert redact_url("http://user:pw@[::1]:9000/bucket?X-Amz-Signature=abc") == "http://[::1]:9000/bucket"


def test_a_url_that_does_not_parse_is_named_as_such() -> None:
    assert redact_url("http://u:p@[not-an-address/x") == "<unparseable URL>"


def test_a_drivers_message_loses_the_url_it_quotes() -> None:
    message = "error: mysql://reader:s3cr%40t@10.0.0.7:3306/shop?ssl-mode=DISABLED refused (ERROR 1045)"
    assert redact_urls(message) == f"error: {URL_PLACEHOLDER} refused (ERROR 1045)"


def test_text_without_urls_is_unchanged() -> None:
    assert redact_urls("ERROR 1146 (42S02): Table 'shop.nope' doesn't exist") == (
        "ERROR 1146 (42S02): Table 'shop.nope' doesn't exist"
    )


# -- properties over generated URLs -------------------------------------------------------------


@dataclass(frozen=True)
class Url:
    text: str
    public: str  # what a message may show: scheme, host, port, path
    secrets: tuple[str, ...]  # user, password, every query value, the fragment


_LABEL = r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?"
SCHEMES = st.sampled_from(
    ["http", "https", "HTTPS", "s3", "mysql", "mysql+pymysql", "postgresql", "postgresql+psycopg", "sftp"]
) | st.from_regex(r"[a-z][a-z0-9+.-]{0,15}", fullmatch=True)
HOSTS = (
    st.from_regex(rf"{_LABEL}(\.{_LABEL}){{0,3}}", fullmatch=True)
    | st.ip_addresses(v=4).map(str)
    | st.ip_addresses(v=6).map(lambda ip: f"[{ip}]")
)
SECRETS = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
SECRET_PARAMETERS = st.sampled_from(
    ["X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "token", "access_token", "sig", "password", "key"]
)


@st.composite
def urls(draw: st.DrawFn) -> Url:
    """A URL with a user and password, maybe secret query parameters and a fragment, every part escaped."""
    scheme, host = draw(SCHEMES), draw(HOSTS)
    port = draw(st.none() | st.integers(1, 65535))
    path = "".join("/" + quote(segment, safe="") for segment in draw(st.lists(st.text(max_size=12), max_size=4)))
    user, password = draw(SECRETS), draw(SECRETS)
    parameters = draw(st.lists(st.tuples(SECRET_PARAMETERS, SECRETS), max_size=3))
    fragment = draw(st.none() | SECRETS)
    netloc = f"{host}:{port}" if port else host
    text = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{netloc}{path}"
    text += f"?{urlencode(parameters)}" if parameters else ""
    text += f"#{quote(fragment, safe='')}" if fragment is not None else ""
    secrets = (user, password, *(value for _, value in parameters), *([fragment] if fragment is not None else []))
    return Url(text, f"{scheme.lower()}://{netloc}{path}", secrets)


@settings(max_examples=500, deadline=None)
@given(url=urls())
def test_a_redacted_url_keeps_nothing_but_its_scheme_host_port_and_path(url: Url) -> None:
    # Equal to the public part: no user, password, query parameter or fragment is left, whatever they hold.
    assert redact_url(url.text) == url.public


@settings(max_examples=500, deadline=None)
@given(
    url=urls(),
    before=st.text(max_size=30),
    opening=st.sampled_from([" ", "(", "'", '"', "=", ": ", "<"]),
    blank=st.sampled_from([" ", "\n", "\t", "\r\n"]),
    after=st.text(max_size=30),
)
def test_a_url_inside_text_is_replaced_whole(url: Url, before: str, opening: str, blank: str, after: str) -> None:
    assume("://" not in before + after)  # the text around holds no URL of its own
    redacted = redact_urls(f"{before}{opening}{url.text}{blank}{after}")
    # The URL with its user, password, query and fragment is gone; the text around it is kept as it was.
    assert redacted == f"{before}{opening}{URL_PLACEHOLDER}{blank}{after}"
