"""ctx.http against live loopback servers: what the egress guard lets through and
what it refuses — before any byte reaches the destination."""

import httpx
import pytest
from imperal_sdk.types.models import HTTPResponse

from apps.egress.errors import EgressRefused

from .conftest import FakeResolver, calls_of, refusals_of, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_allowed_call_returns_the_sdks_http_response(upstream, allow, http, app_id):
    allow(f"127.0.0.1:{upstream.port}")
    response = run(http().get(upstream.url("/json"), params={"q": "1"}))
    assert type(response) is HTTPResponse
    assert response.status_code == 200 and response.ok
    assert response.json() == {"hello": "world", "items": [1, 2]}
    assert response.headers["content-type"] == "application/json"
    assert [r["path"] for r in upstream.requests] == ["/json?q=1"]
    assert refusals_of(app_id) == []


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_method_of_the_sdk_client_goes_through(upstream, allow, http, method):
    allow(f"127.0.0.1:{upstream.port}")
    kwargs = {} if method == "delete" else {"json": {"name": "Ada"}}
    response = run(getattr(http(), method)(upstream.url("/echo"), **kwargs))
    assert response.body["method"] == method.upper()
    assert response.body["received"] == (0 if method == "delete" else 14)


def test_loopback_is_refused_by_default_and_recorded(upstream, http, app_id):
    with pytest.raises(EgressRefused) as refused:
        run(http().get(upstream.url("/json")))
    assert refused.value.rule == "loopback"
    assert refused.value.host == "127.0.0.1"
    assert f"127.0.0.1:{upstream.port}" in str(refused.value)
    assert "IMPERAL_EGRESS_ALLOW" in str(refused.value)
    assert upstream.requests == []
    (event,) = refusals_of(app_id)
    assert event.detail["rule"] == "loopback" and event.user_id == "alice"
    (call,) = calls_of(app_id)
    assert (call.outcome, call.rule, call.status) == ("refused", "loopback", None)


@pytest.mark.parametrize(
    "host, rule",
    [
        ("localhost", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("2130706433", "loopback"),  # decimal
        ("0x7f000001", "loopback"),  # hex
        ("0x7f.0.0.1", "loopback"),  # hex, dotted
        ("127.1", "loopback"),  # short
        ("[::1]", "loopback"),
        ("0.0.0.0", "unspecified"),
    ],
)
def test_every_spelling_of_this_machine_is_refused(upstream, http, app_id, host, rule):
    with pytest.raises(EgressRefused) as refused:
        run(http().get(f"http://{host}:{upstream.port}/json"))
    assert refused.value.rule == rule
    assert upstream.requests == []
    assert calls_of(app_id)[0].outcome == "refused"


def test_an_octal_address_never_reaches_the_network(upstream, allow, http, app_id):
    allow(f"127.0.0.1:{upstream.port}")  # even allowed: httpx will not read octal
    with pytest.raises(httpx.InvalidURL, match="0177.0.0.1"):
        run(http().get(f"http://0177.0.0.1:{upstream.port}/json"))
    assert upstream.requests == []
    (call,) = calls_of(app_id)
    assert (call.outcome, call.error_code) == ("failed", "invalid_url")


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "localhost"])
def test_another_spelling_of_an_allowed_address_is_allowed(upstream, allow, http, host):
    allow(f"127.0.0.1:{upstream.port}")
    response = run(http().get(f"http://{host}:{upstream.port}/json"))
    assert response.status_code == 200


def test_a_name_resolving_to_a_private_address_is_refused(http, app_id):
    dns = FakeResolver({"api.example.test": ["10.0.0.5"]})
    with pytest.raises(EgressRefused, match=r"api\.example\.test:443 \(10\.0\.0\.5\)"):
        run(http(dns).get("https://api.example.test/v1/items"))
    assert dns.asked == [("api.example.test", 443)]
    assert refusals_of(app_id)[0].detail["address"] == "10.0.0.5"


def test_a_name_with_one_private_address_among_public_ones_is_refused(http):
    dns = FakeResolver({"mixed.example.test": ["93.184.216.34", "169.254.169.254"]})
    with pytest.raises(EgressRefused) as refused:
        run(http(dns).get("https://mixed.example.test/"))
    assert refused.value.rule == "link-local"


def test_the_connection_goes_to_the_checked_address_under_the_asked_name(
    upstream, allow, http
):
    allow("upstream.example.test")
    dns = FakeResolver({"upstream.example.test": ["127.0.0.1"]})
    response = run(http(dns).get(f"http://upstream.example.test:{upstream.port}/echo"))
    assert response.body["host"] == f"upstream.example.test:{upstream.port}"
    # Resolved once, by the guard: no second lookup could move the connection.
    assert dns.asked == [("upstream.example.test", upstream.port)]


def test_a_redirect_to_cloud_metadata_is_refused(upstream, allow, http, app_id):
    allow(f"127.0.0.1:{upstream.port}")
    metadata = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(EgressRefused) as refused:
        run(http().get(upstream.url(f"/redirect?to={metadata}")))
    assert refused.value.rule == "link-local"
    assert refused.value.host == "169.254.169.254"
    assert len(upstream.requests) == 1
    (call,) = calls_of(app_id)
    assert (call.outcome, call.host, call.refused_host) == (
        "refused",
        "127.0.0.1",
        "169.254.169.254",
    )


def test_a_redirect_to_a_loopback_port_not_allowed_is_refused(
    upstream, other_upstream, allow, http
):
    allow(f"127.0.0.1:{upstream.port}")
    target = other_upstream.url("/json")
    with pytest.raises(EgressRefused, match=f"127.0.0.1:{other_upstream.port}"):
        run(http().get(upstream.url(f"/redirect?to={target}")))
    assert other_upstream.requests == []


def test_a_redirect_between_allowed_destinations_is_followed(
    upstream, other_upstream, allow, http, app_id
):
    allow(f"127.0.0.1:{upstream.port}", f"127.0.0.1:{other_upstream.port}")
    target = other_upstream.url("/json")
    response = run(http().get(upstream.url(f"/redirect?to={target}")))
    assert response.json()["hello"] == "world"
    assert calls_of(app_id)[0].redirects == 1


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.test/x"])
def test_other_schemes_are_refused(http, app_id, url):
    with pytest.raises(EgressRefused) as refused:
        run(http().get(url))
    assert refused.value.rule == "scheme"
    assert refusals_of(app_id)[0].detail["rule"] == "scheme"


def test_with_public_destinations_off_only_listed_ones_are_reached(
    upstream, allow, http
):
    allow(f"127.0.0.1:{upstream.port}", public=False)
    dns = FakeResolver({"api.example.test": ["93.184.216.34"]})
    with pytest.raises(EgressRefused) as refused:
        run(http(dns).get("https://api.example.test/"))
    assert refused.value.rule == "not-allowed"
    assert run(http(dns).get(upstream.url("/json"))).status_code == 200


def test_an_allow_entry_of_another_extension_does_not_count(upstream, settings, http):
    settings.IMPERAL_EGRESS_ALLOW = {"someone-else": [f"127.0.0.1:{upstream.port}"]}
    with pytest.raises(EgressRefused):
        run(http().get(upstream.url("/json")))
    assert upstream.requests == []
