"""Spec parsing and validation for the nine BinderHub provider prefixes."""

from __future__ import annotations

import pytest

from skybinder.domain.errors import SpecError, UnknownProviderError
from skybinder.domain.spec_rules import is_internal_host
from skybinder.domain.specs import (
    FORMS,
    PROVIDERS,
    CkanSpec,
    DataverseSpec,
    FigshareSpec,
    GistSpec,
    GitHubSpec,
    GitLabSpec,
    GitSpec,
    HydroshareSpec,
    ParsedSpec,
    ZenodoSpec,
    parse_spec,
    split_path,
)

SHA = "0123456789abcdef0123456789abcdef01234567"
HS_ID = "b8f6eae9d89241cf8b5904033460af61"

VALID: list[tuple[str, str, ParsedSpec]] = [
    (
        "gh",
        "binder-examples/requirements/HEAD",
        GitHubSpec("binder-examples", "requirements", "HEAD"),
    ),
    (
        "gh",
        "binder-examples/requirements/HEAD/",
        GitHubSpec("binder-examples", "requirements", "HEAD"),
    ),
    ("gh", "u/r.git/main", GitHubSpec("u", "r", "main")),
    ("gh", "u/r.js/v1.0.2", GitHubSpec("u", "r.js", "v1.0.2")),
    ("gh", "u/r/feature/x", GitHubSpec("u", "r", "feature/x")),
    ("gh", "u/r/feature%2Fx", GitHubSpec("u", "r", "feature/x")),
    ("gh", f"u/r/{SHA}", GitHubSpec("u", "r", SHA)),
    ("gh", "u/r/f%C3%BCnf", GitHubSpec("u", "r", "fünf")),  # git allows non-ASCII ref names
    ("gh", "u/r/" + "a" * 255, GitHubSpec("u", "r", "a" * 255)),
    ("gist", "parente/a1b2c3", GistSpec("parente", "a1b2c3", "")),
    ("gist", "parente/a1b2c3/HEAD", GistSpec("parente", "a1b2c3", "HEAD")),
    ("gist", f"parente/a1b2c3/{SHA}", GistSpec("parente", "a1b2c3", SHA)),
    ("gl", "group%2Fproject/main", GitLabSpec("group/project", "main")),
    ("gl", "a%2Fb%2Fc.git/release/1.0", GitLabSpec("a/b/c", "release/1.0")),
    ("git", "https%3A%2F%2Fgithub.com%2Fu%2Fr/HEAD", GitSpec("https://github.com/u/r", "HEAD")),
    (
        "git",
        "https%3A%2F%2Fexample.org%2Fr.git/feature/x",
        GitSpec("https://example.org/r.git", "feature/x"),
    ),
    ("git", f"git%3A%2F%2Fexample.org%2Fr.git/{SHA}", GitSpec("git://example.org/r.git", SHA)),
    (
        "git",
        "ssh%3A%2F%2Fgit%40example.org%2Fr.git/main",
        GitSpec("ssh://git@example.org/r.git", "main"),
    ),
    ("git", "git%40github.com%3Au%2Fr.git/main", GitSpec("ssh://git@github.com/u/r.git", "main")),
    ("zenodo", "10.5281/zenodo.3242074", ZenodoSpec("10.5281/zenodo.3242074", "3242074")),
    ("zenodo", "10.5281%2Fzenodo.3242074", ZenodoSpec("10.5281/zenodo.3242074", "3242074")),
    (
        "figshare",
        "10.6084/m9.figshare.9782777.v1",
        FigshareSpec("10.6084/m9.figshare.9782777.v1", "9782777", 1),
    ),
    (
        "figshare",
        "10.6084/m9.figshare.9782777",
        FigshareSpec("10.6084/m9.figshare.9782777", "9782777", None),
    ),
    ("dataverse", "10.7910/DVN/TJCLKP", DataverseSpec("10.7910/DVN/TJCLKP")),
    ("hydroshare", HS_ID, HydroshareSpec(HS_ID)),
    ("hydroshare", f"https%3A%2F%2Fwww.hydroshare.org%2Fresource%2F{HS_ID}", HydroshareSpec(HS_ID)),
    (
        "ckan",
        "https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fsample-dataset-1",
        CkanSpec("https://demo.ckan.org/dataset/sample-dataset-1", "sample-dataset-1", None),
    ),
    (
        "ckan",
        "https%3A%2F%2Fdata.example.org%2Fckan%2Fdataset%2Fd1%2Fhistory%2Fa-1",
        CkanSpec("https://data.example.org/ckan/dataset/d1/history/a-1", "d1", "a-1"),
    ),
    (
        "ckan",
        "https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fd1%3Factivity_id%3Da-2",
        CkanSpec("https://demo.ckan.org/dataset/d1?activity_id=a-2", "d1", "a-2"),
    ),
]


@pytest.mark.parametrize(("provider", "spec", "expected"), VALID)
def test_valid_specs_parse_into_their_parts(provider: str, spec: str, expected: ParsedSpec) -> None:
    assert parse_spec(provider, spec) == expected


INVALID: list[tuple[str, str]] = [
    # missing or empty parts
    ("gh", ""),
    ("gh", "/"),
    ("gh", "u"),
    ("gh", "u/r"),
    ("gh", "u/r/"),
    ("gh", "/r/HEAD"),
    ("gh", "u//HEAD"),
    ("gh", "u/.git/HEAD"),
    # extra slashes end up in the ref, where git forbids empty parts
    ("gh", "u/r//HEAD"),
    ("gh", "u/r/a//b"),
    # path traversal, plain and percent-encoded
    ("gh", "../r/HEAD"),
    ("gh", "u/../HEAD"),
    ("gh", "u/r/.."),
    ("gh", "%2e%2e/r/HEAD"),
    ("gh", "u/%2E%2E/HEAD"),
    ("gh", "u/r/a%2F..%2Fb"),
    ("gh", "u/r%2F..%2Fx/HEAD"),
    # control characters, whitespace and invisible formatting, plain and encoded
    ("gh", "u/r/ma%00in"),
    ("gh", "u/r/ma%0Ain"),
    ("gh", "u/r/a%20b"),
    ("gh", "u/r/a b"),
    ("gh", "u/r/a\tb"),
    ("gh", "u/r/a%7Fb"),
    ("gh", "u/r/a%C2%A0b"),
    ("gh", "u/r/a%E2%80%AEb"),
    ("gh", "u/r/%ff"),  # not UTF-8
    # shell metacharacters
    ("gh", "u;id/r/HEAD"),
    ("gh", "u/r|x/HEAD"),
    ("gh", "u&/r/HEAD"),
    ("gh", "u/r$x/HEAD"),
    ("gh", "u/r/`id`"),
    ("gh", "u/r/$(id)"),
    ("gh", "u/r/x;y"),
    ("gh", "u/r/a%7Cb"),
    ("gh", "u/r/a%26b"),
    # unicode in names GitHub keeps ASCII
    ("gh", "us%C3%A9r/r/HEAD"),
    ("gh", "usér/r/HEAD"),
    ("gh", "u/r%C3%A9/HEAD"),
    # GitHub name rules
    ("gh", "-u/r/HEAD"),
    ("gh", "u_x/r/HEAD"),
    ("gh", "u/" + "r" * 101 + "/HEAD"),
    ("gh", "u" * 40 + "/r/HEAD"),
    # git ref-name rules
    ("gh", "u/r/" + "a" * 256),
    ("gh", "u/r/-rf"),
    ("gh", "u/r/x.lock"),
    ("gh", "u/r/a/.hidden"),
    ("gh", "u/r/x@{1}"),
    ("gh", "u/r/@"),
    ("gh", "u/r/a~1"),
    ("gh", "u/r/a^"),
    ("gh", "u/r/a:b"),
    ("gh", "u/r/a%3Fb"),
    ("gh", "u/r/a*"),
    ("gh", "u/r/a[b"),
    ("gh", "u/r/a%5Cb"),
    ("gh", "u/r/x."),
    ("gh", "u/r/feature%2F"),  # a trailing "/" is stripped, but not an encoded one
    ("gist", "parente"),
    ("gist", "parente/not-hex"),
    ("gist", "parente/abc/feature"),
    ("gist", "parente/abc/def/ghi"),
    ("gist", "pa;rente/abc"),
    ("gl", "group/project/main"),
    ("gl", "group%2Fproject"),
    ("gl", "%2Fproject/main"),
    ("gl", "group%2F..%2Fx/main"),
    ("gl", "group%2Fpro%00ject/main"),
    ("gl", "group%2Fp/a..b"),
    ("gl", "group%2Fp.atom/main"),
    ("gl", "group%2F-p/main"),
    ("git", "https%3A%2F%2Fgithub.com%2Fu%2Fr"),
    ("git", "https://github.com/u/r/HEAD"),
    ("git", "ftp%3A%2F%2Fexample.org%2Fr/HEAD"),
    ("git", "ext%3A%3Asomething/HEAD"),
    ("git", "ext%3A%3Ash%20-c%20id/HEAD"),
    ("git", "relative%2Fpath/HEAD"),
    ("git", "https%3A%2F%2Fexample.org%2F..%2Fr/HEAD"),
    ("git", "https%3A%2F%2Fexample.org%2F%252e%252e%2Fr/HEAD"),  # ".." encoded twice
    ("git", "https%3A%2F%2Fexample.org%2Fr%3Bid/HEAD"),
    ("git", "https%3A%2F%2Fexample.org%2Fr%60id%60/HEAD"),
    ("git", "https%3A%2F%2Fu%3Apw%40example.org%2Fr/HEAD"),  # credentials
    ("git", "ssh%3A%2F%2F-oProxyCommand%3Dx%2Fr/HEAD"),
    ("git", "https%3A%2F%2Fexample.org%3Ax%2Fr/HEAD"),
    ("git", "https%3A%2F%2Fexample.org%2Fr/ma%00in"),
    ("git", "https%3A%2F%2Fexample.org%2Fr/-x"),
    ("git", "file%3A%2F%2F%2Ftmp%2Frepo/HEAD"),
    ("git", "%2Ftmp%2Frepo/HEAD"),  # local only
    ("git", "https%3A%2F%2F127.0.0.1%2Fr/HEAD"),
    ("git", "http%3A%2F%2F169.254.169.254%2Fr/HEAD"),
    ("git", "http%3A%2F%2Flocalhost%3A3000%2Fr/HEAD"),
    ("git", "http%3A%2F%2F2130706433%2Fr/HEAD"),
    ("git", "http%3A%2F%2F%5B%3A%3A1%5D%2Fr/HEAD"),
    ("git", "http%3A%2F%2F10.0.0.7%2Fr/HEAD"),
    ("zenodo", "10.1234/zenodo.1"),
    ("zenodo", "10.5281/zenodo."),
    ("zenodo", "zenodo.123"),
    ("zenodo", "10.5281/zenodo.12a"),
    ("zenodo", "10.5281/zenodo.1%0A"),
    ("figshare", "10.6084/m9.figshare.x"),
    ("figshare", "10.6084/m9.figshare.1.vx"),
    ("dataverse", "10.7910"),
    ("dataverse", "10.7910/DVN/../X"),
    ("dataverse", "11.7910/DVN/X"),
    ("dataverse", "10.7910/DVN//X"),
    ("dataverse", "10.7910/DVN/X%20Y"),
    ("hydroshare", "abc"),
    ("hydroshare", "https%3A%2F%2Fexample.org%2Fresource%2Fnotanid"),
    ("hydroshare", f"ftp%3A%2F%2Fexample.org%2F{HS_ID}"),
    ("hydroshare", f"javascript%3A{HS_ID}"),
    ("ckan", "https%3A%2F%2Fdemo.ckan.org%2Fgroup%2Fx"),
    ("ckan", "ftp%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fx"),
    ("ckan", "https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fx%2Fresource%2Fy"),
    ("ckan", "https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fx%3Fother%3D1"),
    ("ckan", "https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fx%3Factivity_id%3Da%26b%3Dc"),
    ("ckan", "http%3A%2F%2F10.0.0.1%2Fdataset%2Fx"),
    ("ckan", "https%3A%2F%2Fdemo.ckan.org%2Fdataset%2F"),
]


@pytest.mark.parametrize(("provider", "spec"), INVALID)
def test_malformed_specs_are_refused_with_the_expected_form(provider: str, spec: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(provider, spec)
    form, example = FORMS[provider]
    assert caught.value.status_code == 400
    assert f"Expected {form}, e.g. {example}" in caught.value.message


def test_every_provider_has_valid_and_invalid_cases() -> None:
    assert {p for p, _, _ in VALID} == set(PROVIDERS)
    assert {p for p, _ in INVALID} == set(PROVIDERS)
    assert len(PROVIDERS) == 9


def test_gh_error_message_says_what_is_wrong_and_suggests_head() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("gh", "binder-examples/requirements")
    assert caught.value.message == (
        "Invalid gh spec: the user, repository or ref is missing (did you mean "
        "'binder-examples/requirements/HEAD'?). "
        "Expected gh/<user>/<repo>/<ref>, e.g. gh/binder-examples/requirements/HEAD"
    )


def test_error_messages_escape_control_characters_and_cut_long_input() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("gh", "u/r/a%1B%5B31mred")
    assert "\x1b" not in caught.value.message
    assert "\\x1b" in caught.value.message
    with pytest.raises(SpecError) as caught:
        parse_spec("gh", "u/r/" + "a" * 300)
    assert "longer than 255 characters" in caught.value.message
    assert "a" * 100 not in caught.value.message


def test_overlong_specs_are_refused_before_parsing() -> None:
    with pytest.raises(SpecError, match="longer than 2048"):
        parse_spec("git", "https%3A%2F%2Fexample.org%2F" + "r" * 3000 + "/HEAD")


@pytest.mark.parametrize(
    ("spec", "url"),
    [
        ("file%3A%2F%2F%2Ftmp%2Frepo/HEAD", "file:///tmp/repo"),
        ("file%3A%2F%2Flocalhost%2Ftmp%2Frepo/HEAD", "file:///tmp/repo"),
        ("%2Ftmp%2Frepo/HEAD", "file:///tmp/repo"),
        # a space must stay encoded inside the URL, so it is encoded twice in the spec
        ("file%3A%2F%2F%2Ftmp%2Fmy%2520repo/HEAD", "file:///tmp/my%20repo"),
        ("http%3A%2F%2Flocalhost%3A3000%2Fr.git/HEAD", "http://localhost:3000/r.git"),
    ],
)
def test_local_mode_accepts_local_paths_file_urls_and_local_hosts(spec: str, url: str) -> None:
    assert parse_spec("git", spec, allow_local=True) == GitSpec(url, "HEAD")


@pytest.mark.parametrize(
    "spec",
    [
        "file%3A%2F%2Fotherhost%2Ftmp%2Frepo/HEAD",
        "%2Ftmp%2F..%2Fetc/HEAD",
        "file%3A%2F%2F%2Ftmp%2F..%2Fetc/HEAD",
        "file%3Arelative/HEAD",
        "%2Ftmp%2Frepo/a..b",
    ],
)
def test_local_mode_still_refuses_bad_local_urls(spec: str) -> None:
    with pytest.raises(SpecError):
        parse_spec("git", spec, allow_local=True)


def test_file_urls_are_refused_outside_local_mode_with_a_reason() -> None:
    with pytest.raises(SpecError, match="only in local mode"):
        parse_spec("git", "file%3A%2F%2F%2Ftmp%2Frepo/HEAD")


@pytest.mark.parametrize(
    ("host", "internal"),
    [
        ("localhost", True),
        ("api.localhost", True),
        ("127.0.0.1", True),
        ("127.1", True),
        ("2130706433", True),
        ("0x7f000001", True),
        ("10.1.2.3", True),
        ("192.168.0.1", True),
        ("169.254.169.254", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("github.com", False),
        ("140.82.112.3", False),
        ("1e100.net", False),
        ("deadbeef.org", False),
    ],
)
def test_internal_hosts_are_recognised_in_all_their_spellings(host: str, internal: bool) -> None:
    assert is_internal_host(host) is internal


def test_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(UnknownProviderError) as caught:
        parse_spec("xy", "whatever/HEAD")
    assert caught.value.status_code == 404
    assert caught.value.message == (
        "No provider found for prefix 'xy'. Known providers: "
        "gh, gist, gl, git, zenodo, figshare, dataverse, hydroshare, ckan."
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("gh/binder-examples/requirements/HEAD", ("gh", "binder-examples/requirements/HEAD")),
        ("gh/binder-examples/requirements/HEAD/", ("gh", "binder-examples/requirements/HEAD")),
        ("/gl/group%2Fproject/main", ("gl", "group%2Fproject/main")),
        (
            "git/https%3A%2F%2Fexample.org%2Frepo.git/HEAD",
            ("git", "https%3A%2F%2Fexample.org%2Frepo.git/HEAD"),
        ),
        ("zenodo/10.5281/zenodo.3242074", ("zenodo", "10.5281/zenodo.3242074")),
    ],
)
def test_split_path_keeps_the_spec_percent_encoded(path: str, expected: tuple[str, str]) -> None:
    assert split_path(path) == expected


@pytest.mark.parametrize("path", ["", "/", "gh", "gh/", "gh//"])
def test_split_path_needs_a_provider_and_a_spec(path: str) -> None:
    with pytest.raises(SpecError, match="Expected <provider>/<spec>"):
        split_path(path)


def test_split_path_refuses_unknown_providers() -> None:
    with pytest.raises(UnknownProviderError, match="'GH'"):
        split_path("GH/u/r/HEAD")
