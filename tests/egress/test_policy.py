"""The egress policy as data: which addresses are public, how IMPERAL_EGRESS_ALLOW
reads (and refuses to start on a malformed value), and the one decision."""

import ipaddress
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.egress.addresses import refusal_reason
from apps.egress.policy import decide, parse_policy

ip = ipaddress.ip_address


@pytest.mark.parametrize(
    "address, rule",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),  # shared address space (carrier-grade NAT)
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.0.8", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),  # Teredo
    ],
)
def test_a_non_public_address_in_any_form_is_refused_by_rule(address, rule):
    assert refusal_reason(ip(address))[0] == rule


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"],
)
def test_a_public_address_passes(address):
    assert refusal_reason(ip(address)) is None


def test_the_embedded_address_is_named_in_the_reason():
    rule, words = refusal_reason(ip("::ffff:127.0.0.1"))
    assert words == "a loopback address (127.0.0.1 in IPv4-mapped form)"


POLICY = parse_policy(
    {
        "notes": ["127.0.0.1:9993", "api.internal.example", "10.20.0.0/16", "[::1]:80"],
        "other": [],
    }
)


@pytest.mark.parametrize(
    "host, port, addresses, allowed",
    [
        ("127.0.0.1", 9993, ["127.0.0.1"], True),
        ("127.0.0.1", 9994, ["127.0.0.1"], False),  # another port
        ("api.internal.example", 443, ["10.9.9.9"], True),  # named host, any address
        ("API.Internal.Example.", 443, ["10.9.9.9"], True),
        ("evil.example", 443, ["10.9.9.9"], False),
        ("db.corp", 5432, ["10.20.3.4"], True),  # inside the network
        ("db.corp", 5432, ["10.21.3.4"], False),
        ("::1", 80, ["::1"], True),
        ("::1", 81, ["::1"], False),
        ("public.example", 443, ["93.184.216.34", "10.20.0.1"], True),
        ("public.example", 443, ["93.184.216.34", "10.99.0.1"], False),
    ],
)
def test_an_entry_allows_exactly_what_it_names(host, port, addresses, allowed):
    verdict = decide(POLICY, "notes", host, port, [ip(a) for a in addresses])
    assert verdict.allowed is allowed


def test_an_entry_belongs_to_its_extension_alone():
    assert not decide(POLICY, "other", "127.0.0.1", 9993, [ip("127.0.0.1")]).allowed


def test_with_public_off_a_public_address_needs_an_entry():
    closed = parse_policy({"notes": ["93.184.216.34"]}, public=False)
    assert decide(closed, "notes", "a.example", 443, [ip("93.184.216.34")]).allowed
    verdict = decide(closed, "notes", "b.example", 443, [ip("93.184.216.35")])
    assert (verdict.allowed, verdict.rule) == (False, "not-allowed")


@pytest.mark.parametrize(
    "value, named",
    [
        (
            '{"notes": ["300.1.1.1/8"]}',
            "IMPERAL_EGRESS_ALLOW['notes'][0]: '300.1.1.1/8'",
        ),
        ('{"notes": ["ok.example", "a b"]}', "IMPERAL_EGRESS_ALLOW['notes'][1]: 'a b'"),
        ('{"notes": ["h:99999"]}', "IMPERAL_EGRESS_ALLOW['notes'][0]: 'h:99999'"),
        ('{"notes": [5]}', "IMPERAL_EGRESS_ALLOW['notes'][0]: 5"),
        ('{"notes": "127.0.0.1"}', "IMPERAL_EGRESS_ALLOW['notes'] must be a list"),
        ('["notes"]', "IMPERAL_EGRESS_ALLOW must be a JSON object"),
        ("{notes", "IMPERAL_EGRESS_ALLOW is not valid JSON"),
    ],
)
def test_a_malformed_allow_list_names_the_key(value, named):
    with pytest.raises(ImproperlyConfigured) as error:
        parse_policy(value)
    assert named in str(error.value)


@pytest.mark.slow
@pytest.mark.parametrize(
    "variable, value, named",
    [
        ("IMPERAL_EGRESS_ALLOW", '{"notes": ["10.0.0.0/33"]}', "['notes'][0]"),
        ("IMPERAL_EGRESS_RATE", "ten/min", "IMPERAL_EGRESS_RATE"),
    ],
)
def test_the_platform_will_not_start_on_a_malformed_setting(
    tmp_path, variable, value, named
):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "IMPERAL_VAR_DIR": str(tmp_path),
            "IMPERAL_TEST_ALLOW_HOSTS": "127.0.0.1,::1",
            variable: value,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert named in result.stderr and variable in result.stderr
