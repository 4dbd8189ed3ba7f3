"""The home page in a real browser: links and badge code for each kind of provider, the copy
buttons, the keyboard, and the layout on a phone and at 200 % zoom."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import shot
from tests.e2e.conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]
FOCUSED = "() => document.activeElement.id || document.activeElement.className"


def open_home(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    expect(page.locator("body")).to_have_attribute("data-ready", "yes")


def outputs(page: Page) -> dict[str, str]:
    return {name: page.input_value(f"#out-{name}") for name in ("url", "markdown", "rst", "html")}


def test_github_link_and_badges(server: Server, page: Page) -> None:
    open_home(page, server)
    page.select_option("#provider", "gh")
    page.fill("#repo", "https://github.com/binder-examples/requirements")  # a pasted address
    page.fill("#ref", "main")
    page.fill("#path", "index.ipynb")
    url = f"{server.url}/v2/gh/binder-examples/requirements/main?labpath=index.ipynb"
    badge = f"{server.url}/badge_logo.svg"
    assert outputs(page) == {
        "url": url,
        "markdown": f"[![Binder]({badge})]({url})",
        "rst": f".. image:: {badge}\n   :target: {url}",
        "html": f'<a href="{url}"><img src="{badge}" alt="Binder"></a>',
    }
    shot(page, "home")


def test_git_url_is_escaped_and_a_url_path_is_passed_on(server: Server, page: Page) -> None:
    open_home(page, server)
    page.select_option("#provider", "git")
    page.fill("#repo", "https://git.example.org/team/my repo.git")
    page.fill("#path", "voila/render/report.ipynb")
    page.select_option("#path-type", "url")
    escaped = quote("https://git.example.org/team/my repo.git", safe="")
    expected = f"{server.url}/v2/git/{escaped}/HEAD?urlpath=voila%2Frender%2Freport.ipynb"
    assert page.input_value("#out-url") == expected


def test_a_provider_without_refs_hides_the_ref(server: Server, page: Page) -> None:
    open_home(page, server)
    page.select_option("#provider", "zenodo")
    expect(page.locator("#ref")).to_be_hidden()
    page.fill("#repo", "10.5281/zenodo.3242074")
    assert page.input_value("#out-url") == f"{server.url}/v2/zenodo/10.5281/zenodo.3242074"
    page.select_option("#provider", "gh")
    page.fill("#repo", "only-a-user")
    expect(page.locator("#form-error")).to_contain_text("does not look like")
    assert page.input_value("#out-url") == ""


def test_copy_buttons_put_the_code_on_the_clipboard(
    server: Server, browser: BrowserContext, page: Page
) -> None:
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    open_home(page, server)
    page.fill("#repo", "binder-examples/requirements")
    for name in ("url", "markdown", "rst", "html"):
        button = page.locator(f'button[data-copy="out-{name}"]')
        button.click()
        expect(button).to_have_text("Copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == page.input_value(
            f"#out-{name}"
        )
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")


def test_keyboard_only_fill_in_and_launch(server: Server, page: Page) -> None:
    open_home(page, server)
    # Stop at the launch page: following it would ask GitHub.
    page.route("**/v2/**", lambda route: route.fulfill(body="<title>launch page</title>"))
    order = []
    page.locator("body").focus()
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate(FOCUSED))
    assert order[:7] == ["skip", "brand", "provider", "repo", "ref", "path", "path-type"], order
    assert order[7] == "launch"
    page.focus("#repo")
    page.keyboard.type("binder-examples/requirements")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/v2/gh/binder-examples/requirements/HEAD")


@pytest.mark.parametrize(
    ("name", "width", "height"),
    [("phone", 390, 844), ("zoom-200", 640, 450)],  # 200 %: a 1280-pixel window's CSS width
)
def test_home_page_fits_narrow_screens(
    server: Server, page: Page, name: str, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    open_home(page, server)
    page.fill("#repo", "binder-examples/requirements")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    box = page.locator("#launch").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    shot(page, f"home-{name}")
