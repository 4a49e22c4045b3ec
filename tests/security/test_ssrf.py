"""SSRF: only public addresses (or an operator's allow-list), resolved once, pinned, every
redirect hop checked, one refusal code that says nothing about the target.

Non-loopback ranges are proved through the resolver seam: ``egress.resolve`` answers with the
address under test and the connection seam fails the test if anything tries to connect.
"""

from __future__ import annotations

import httpx
import pytest

from shared.calendar_settings import CalendarSettings
from shared.errors import SchedqError
from tests.security.hostile import HostileServer, body, redirect
from worker.calendar import egress

FEED = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
NOWHERE = CalendarSettings(allowed_networks=())  # production: no allow-list

REFUSED = [
    "127.0.0.1", "127.255.255.254", "0.0.0.0", "10.0.0.1", "172.16.5.4", "192.168.1.1",
    "169.254.169.254", "100.64.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255", "192.0.0.8", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1",
    "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "2002:7f00:1::1", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "2001:db8::1",
]  # fmt: skip


class NoConnection(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pytest.fail(f"a connection to {request.url.host} was attempted")


def refusal(settings: CalendarSettings, url: str) -> SchedqError:
    with pytest.raises(SchedqError) as caught, egress.Session(settings) as session:
        session.request("GET", url)
    return caught.value


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.setattr(egress, "resolve", lambda host, port: [address])
    monkeypatch.setattr(egress, "connect_transport", NoConnection)
    err = refusal(NOWHERE, "https://calendar.example.org/feed.ics")
    assert err.code == "CALENDAR_TARGET_REFUSED"


def test_one_refusal_reveals_nothing_about_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """Metadata service, PostgreSQL's port, Redis's port, a closed port: one answer."""
    monkeypatch.setattr(egress, "connect_transport", NoConnection)
    answers = []
    for address, port in [("169.254.169.254", 80), ("10.0.0.5", 5432), ("127.0.0.1", 6379),
                          ("192.168.0.1", 1)]:  # fmt: skip
        monkeypatch.setattr(egress, "resolve", lambda host, p, a=address: [a])
        answers.append(refusal(NOWHERE, f"http://internal.example.org:{port}/").as_dict())
    assert all(a == answers[0] for a in answers)
    assert answers[0]["details"] == {}
    assert "169.254" not in str(answers) and "5432" not in str(answers)


def test_a_name_with_one_internal_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(egress, "resolve", lambda host, port: ["93.184.216.34", "10.0.0.1"])
    monkeypatch.setattr(egress, "connect_transport", NoConnection)
    assert refusal(NOWHERE, "https://mixed.example.org/").code == "CALENDAR_TARGET_REFUSED"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "017700000001", "127.1",
     "[::1]", "[::ffff:7f00:1]", "localhost", "LocalHost"],
)  # fmt: skip
def test_obfuscated_loopback_spellings_resolve_to_loopback_and_are_refused(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    """The real resolver (these are literals or /etc/hosts: no DNS query leaves the host)."""
    monkeypatch.setattr(egress, "connect_transport", NoConnection)
    assert refusal(NOWHERE, f"http://{host}:8080/x.ics").code == "CALENDAR_TARGET_REFUSED"


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the first answer is public, any later one internal. One lookup only;
    the connection uses the checked address, Host and TLS SNI keep the name."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])
    lookups: list[str] = []
    sent: list[httpx.Request] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    class Record(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return httpx.Response(200, stream=httpx.ByteStream(FEED))

    monkeypatch.setattr(egress, "resolve", resolve)
    monkeypatch.setattr(egress, "connect_transport", Record)
    with egress.Session(NOWHERE) as session:
        assert session.request("GET", "https://rebind.example.org/cal.ics").content == FEED
    assert lookups == ["rebind.example.org"]
    assert [str(r.url) for r in sent] == ["https://93.184.216.34/cal.ics"]
    assert sent[0].headers["Host"] == "rebind.example.org"
    assert sent[0].extensions["sni_hostname"] == "rebind.example.org"


def test_the_allow_list_is_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(egress, "resolve", lambda host, port: ["10.1.2.3"])
    monkeypatch.setattr(egress, "connect_transport", NoConnection)
    assert refusal(NOWHERE, "http://intranet.example/").code == "CALENDAR_TARGET_REFUSED"
    allowed = CalendarSettings(allowed_networks="10.1.2.0/24")
    with pytest.raises(pytest.fail.Exception, match=r"connection to 10\.1\.2\.3"):
        refusal(allowed, "http://intranet.example/")  # allowed: it really tries to connect


def test_every_redirect_hop_is_checked(hostile: HostileServer) -> None:
    """An allowed server (loopback here) redirecting to the metadata service: the second hop
    is refused without connecting (the loopback-only transport would fail the test)."""
    url = hostile.on("/r", redirect("http://169.254.169.254/latest/meta-data/"))
    loopback = CalendarSettings(allowed_networks="127.0.0.1/32")
    with egress.Session(loopback) as session, pytest.raises(SchedqError) as caught:
        session.request("GET", url)
    assert caught.value.code == "CALENDAR_TARGET_REFUSED"
    assert [s.path for s in hostile.seen] == ["/r"]


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO"])
def test_redirects_to_other_schemes_are_refused(hostile: HostileServer, location: str) -> None:
    url = hostile.on("/s", redirect(location))
    loopback = CalendarSettings(allowed_networks="127.0.0.1/32")
    with egress.Session(loopback) as session, pytest.raises(SchedqError) as caught:
        session.request("GET", url)
    assert caught.value.code == "CALENDAR_TARGET_REFUSED"


def test_redirect_hops_are_capped_and_a_loop_gets_a_provider_code(hostile: HostileServer) -> None:
    url = hostile.on("/loop", redirect("/loop"))
    settings = CalendarSettings(allowed_networks="127.0.0.1/32", max_redirects=3)
    with egress.Session(settings) as session, pytest.raises(SchedqError) as caught:
        session.request("GET", url)
    assert caught.value.code == "CALENDAR_TOO_MANY_REDIRECTS"
    assert caught.value.severity != "CRITICAL"
    assert len(hostile.seen) == 4  # the first request and three hops, not 20


def test_a_followed_redirect_reaches_an_allowed_target(hostile: HostileServer) -> None:
    hostile.on("/feed.ics", body(FEED))
    url = hostile.on("/old", redirect("/feed.ics", status=301))
    with egress.Session(CalendarSettings(allowed_networks="127.0.0.1/32")) as session:
        assert session.request("GET", url).content == FEED


@pytest.mark.usefixtures("database_url", "redis_url")
def test_caldav_requests_take_the_same_checked_path(hostile: HostileServer, uid: str) -> None:
    """The caldav library's own HTTP stack is replaced: its REPORT redirected to the metadata
    service is refused like a feed's GET (the loopback-only transport guards the test)."""
    from tests.calendar_support import make_doctor, run

    url = hostile.on("/dav/cal/", redirect("http://169.254.169.254/latest/", status=307))
    doctor = make_doctor(f"dav-ssrf-{uid}")
    link_id = run("link_calendar", {"doctor_id": doctor, "kind": "caldav", "url": url})["link_id"]
    with pytest.raises(SchedqError) as caught:
        run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert caught.value.code == "CALENDAR_TARGET_REFUSED"
    assert {s.path for s in hostile.seen} == {"/dav/cal/"}


@pytest.mark.usefixtures("database_url", "redis_url")
@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/", "http://2130706433:6379/", "http://[::1]:5432/"]
)
def test_links_to_internal_address_literals_are_refused_when_submitted(
    uid: str, url: str, calendar_env: pytest.MonkeyPatch
) -> None:
    from tests.calendar_support import make_doctor, run

    calendar_env.setenv("SCHEDQ_CALENDAR_ALLOWED_NETWORKS", "")  # production: no allow-list
    doctor = make_doctor(f"lit-{uid}-{len(url)}")
    with pytest.raises(SchedqError) as caught:
        run("link_calendar", {"doctor_id": doctor, "kind": "ics", "url": url})
    assert caught.value.code == "CALENDAR_TARGET_REFUSED"
