"""Launches in a real browser against a real binder: a link that builds and lands in
JupyterLab with the notebook open, a build that fails, and a stream that drops mid-build."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sessions_for, shot
from tests.browser.proxy import DroppingProxy
from tests.e2e.conftest import Server, make_repo

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
NOTEBOOK = json.dumps(
    {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Opened by the test"]}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
)
BUILD_TIMEOUT = 150_000  # ms: a cold package cache downloads JupyterLab once


def spec_of(repo: Path) -> str:
    return f"{quote(repo.as_uri(), safe='')}/HEAD"


def test_labpath_link_builds_and_opens_the_notebook(
    server: Server, page: Page, tmp_path: Path
) -> None:
    repo = make_repo(
        tmp_path / "analysis",
        {"requirements.txt": "tabulate==0.9.0\n", "analysis.ipynb": NOTEBOOK},
    )
    page.goto(f"{server.url}/v2/git/{spec_of(repo)}?labpath=analysis.ipynb")
    expect(page.locator("#log")).to_contain_text("Fetching file://", timeout=BUILD_TIMEOUT)
    expect(page.locator('#steps li[data-step="prepare"]')).to_have_attribute("data-state", "done")
    assert page.locator("#favicon").get_attribute("href") == "/favicon_building.svg"
    shot(page, "launch-building")
    page.wait_for_url(re.compile(r"/s/[0-9a-f]+/doc/tree/analysis\.ipynb\?token=\S+$"))
    expect(page).to_have_title(re.compile(r"^analysis\.ipynb"), timeout=60_000)
    expect(page.locator(".jp-NotebookPanel h1")).to_contain_text("Opened by the test")
    shot(page, "jupyterlab-notebook", full_page=False)
    [(_, state)] = sessions_for(server, spec_of(repo))
    assert state == "ready"


def test_a_failing_build_shows_the_reason_the_log_and_what_to_try(
    server: Server, page: Page, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "broken", {"requirements.txt": "skybinder-nope-pkg-zz==1\n"})
    page.goto(f"{server.url}/v2/git/{spec_of(repo)}")
    failure = page.locator("#failure")
    expect(failure).to_be_visible(timeout=BUILD_TIMEOUT)
    expect(failure).to_be_focused()
    expect(page.locator("#failure-heading")).to_have_text("The environment could not be built")
    expect(page.locator("h1")).to_contain_text("Could not start Git repository: file://")
    expect(page.locator("#failure-details")).to_contain_text("skybinder-nope-pkg-zz")
    tail = page.locator("#failure-log").inner_text().splitlines()
    assert len(tail) >= 3 and any("requirements.txt" in line for line in tail), tail
    assert page.locator("#failure-tips li").count() >= 2
    expect(page.locator('#steps li[data-step="build"]')).to_have_attribute("data-state", "failed")
    assert page.locator("#favicon").get_attribute("href") == "/favicon_fail.svg"
    expect(page.locator("#relaunch")).to_be_visible()
    shot(page, "launch-failed")


def test_a_dropped_stream_reattaches_to_the_same_launch(
    server: Server, page: Page, tmp_path: Path
) -> None:
    repo = make_repo(
        tmp_path / "slow",
        {
            "requirements.txt": "tabulate==0.9.0\n",
            "notebook.ipynb": NOTEBOOK,
            # Colours, then a pause, so that the stream is cut while the build still runs.
            "postBuild": "printf '\\033[1;31mred step\\033[0m then \\033[32mgreen step\\033[0m\\n'"
            "\nsleep 4\necho slow step done\n",
        },
    )
    port = int(server.url.rsplit(":", 1)[1])
    with DroppingProxy(port) as proxy:
        page.goto(f"http://127.0.0.1:{proxy.port}/v2/git/{spec_of(repo)}?labpath=notebook.ipynb")
        expect(page.locator("body")).to_have_attribute("data-reattached", "1", timeout=30_000)
        assert proxy.cut.is_set()
        expect(page.locator("#log .note")).to_contain_text("Reconnected to your launch")
        expect(page.locator("#notice")).to_contain_text("reconnected to the same launch")
        red = page.locator("#log .ansi-fg-1.ansi-bold")
        expect(red).to_have_text("red step", timeout=BUILD_TIMEOUT)
        expect(page.locator("#log .ansi-fg-2")).to_have_text("green step")
        assert "\x1b" not in page.locator("#log").inner_text()
        shot(page, "launch-reattached")
        page.wait_for_url(re.compile(r"/s/[0-9a-f]+/doc/tree/notebook\.ipynb\?token="))
        expect(page).to_have_title(re.compile(r"^notebook\.ipynb"), timeout=60_000)
    assert proxy.build_requests == 1  # reattached, never asked /build again
    [(_, state)] = sessions_for(server, spec_of(repo))  # one launch, not two
    assert state == "ready"


@pytest.mark.parametrize(
    ("path", "status", "heading"),
    [
        ("/v2/gh/binder-examples", 400, "This launch link is not valid"),
        ("/v2/svn/u/r/HEAD", 404, "Unknown repository provider"),
    ],
)
def test_a_bad_link_explains_the_expected_form(
    server: Server, page: Page, path: str, status: int, heading: str
) -> None:
    response = page.goto(server.url + path)
    assert response is not None and response.status == status
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("#expected-form")).to_have_text("/v2/gh/<user>/<repo>/<ref>")
    # The example is a working link (not followed: it would ask GitHub).
    assert page.get_attribute("#example", "href") == "/v2/gh/binder-examples/requirements/HEAD"
    shot(page, f"bad-link-{status}")
