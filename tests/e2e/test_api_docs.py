"""The API's documentation pages in a real browser: they render, and no request
leaves the server (no CDN, no web fonts, no vendor logo)."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def requests_elsewhere(page, server):
    """Record (and stop) every request ``page`` sends to another host; return the list."""
    own = urlsplit(server.url).netloc
    elsewhere = []

    def route(request_route):
        url = request_route.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
            request_route.continue_()
        else:
            elsewhere.append(url)
            request_route.abort()

    page.context.route("**/*", route)
    return elsewhere


@pytest.mark.parametrize(
    "path, heading",
    [("/api/redoc/", "imperal-platform API"), ("/api/docs/", "imperal-platform API")],
)
def test_the_api_docs_render_without_a_request_leaving_the_server(
    new_page, server, screenshot, path, heading
):
    page = new_page()
    elsewhere = requests_elsewhere(page, server)
    page.goto(path)
    expect(page.get_by_text(heading).first).to_be_visible()
    # Both pages list the routes once the schema is loaded.
    expect(page.get_by_text("/api/v1/extensions").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, f"api-docs{path.replace('/', '-')}")
    assert elsewhere == []
