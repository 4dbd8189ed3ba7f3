"""What each refusal of a spec says, word for word, for every provider: the message is the only
thing a person sees of a bad link (a 400 page or one `failed` event)."""

from __future__ import annotations

import pytest

from skybinder.domain.errors import SpecError, UnknownProviderError
from skybinder.domain.spec_rules import show
from skybinder.domain.specs import (
    PROVIDERS,
    CkanSpec,
    GitHubSpec,
    GitSpec,
    parse_git,
    parse_spec,
    split_path,
)
from tests.unit.test_spec_rules import HS_ID, problem

CONTROL = "contains whitespace or control characters"
UTF8 = "is not valid UTF-8 once decoded"
EX = "https%3A%2F%2Fexample.org"
URL = f"{EX}%2Fr"
CKAN = "https%3A%2F%2Fx.org%2Fdataset%2Fa"  # https://x.org/dataset/a
LOCAL = "URLs of localhost or private networks are not allowed here"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_empty_spec_is_named_for_its_provider(provider: str) -> None:
    assert problem(provider, "/") == "the spec is empty"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_overlong_spec_is_refused_before_it_is_read(provider: str) -> None:
    assert problem(provider, "a" * 2049) == "the spec is longer than 2048 characters"


@pytest.mark.parametrize(
    ("provider", "spec", "expected"),
    [
        ("gh", "u%0A/r/HEAD", f"the user 'u\\n' {CONTROL}"),
        ("gh", "u/r%09/HEAD", f"the repository 'r\\t' {CONTROL}"),
        ("gh", "u/r/a%20b", f"the ref 'a b' {CONTROL}"),
        ("gh", "u/r/%FF", f"the ref {UTF8}"),
        ("gist", "u/ab%00c", f"the spec 'ab\\x00c' {CONTROL}"),
        ("gist", "u/%C3", f"the spec {UTF8}"),
        ("gl", "group%2Fp%0A/main", f"the namespace 'group/p\\n' {CONTROL}"),
        ("gl", "group%2Fp/ma%0Ain", f"the ref 'ma\\nin' {CONTROL}"),
        ("git", f"{EX}%2F%0A/main", f"the URL 'https://example.org/\\n' {CONTROL}"),
        ("git", f"{URL}/ma%0Ain", f"the ref 'ma\\nin' {CONTROL}"),
        ("git", f"{URL}/%FF", f"the ref {UTF8}"),
        ("zenodo", "10.5281/zenodo.1%0A", f"the DOI '10.5281/zenodo.1\\n' {CONTROL}"),
        ("figshare", "10.6084/m9.figshare.1%0A", f"the DOI '10.6084/m9.figshare.1\\n' {CONTROL}"),
        ("dataverse", "10.7910/DVN/X%0A", f"the DOI '10.7910/DVN/X\\n' {CONTROL}"),
        ("hydroshare", f"{HS_ID}%0A", f"the resource '{HS_ID}\\n' {CONTROL}"),
        ("ckan", f"{CKAN}%0A", f"the URL 'https://x.org/dataset/a\\n' {CONTROL}"),
    ],
)  # fmt: skip
def test_control_characters_are_named_with_the_part_they_are_in(
    provider: str, spec: str, expected: str
) -> None:
    assert problem(provider, spec) == expected


@pytest.mark.parametrize(
    ("provider", "spec", "expected"),
    [
        ("gh", "u", "the user, repository or ref is missing"),
        ("gh", "u/r", "the user, repository or ref is missing (did you mean 'u/r/HEAD'?)"),
        ("gh", "u_x/r/HEAD", "'u_x' is not a GitHub user or organisation name"),
        ("gh", "u/./HEAD", "'.' is not a GitHub repository name"),
        ("gh", "u/r$x/HEAD", "'r$x' is not a GitHub repository name"),
        ("gl", "group/project/main", "the namespace must be url-escaped <group>%2F<project>"),
        ("gl", "group.git%2Fp/main", "namespace parts may not end with .git or .atom"),
        ("gl", "group%2Fp.GIT.atom/main", "namespace parts may not end with .git or .atom"),
        ("git", "/HEAD", "the clone URL is missing or not url-escaped"),
        ("git", "https:/HEAD", "the clone URL is missing or not url-escaped"),
        ("git", "https://example.org/r/HEAD", "the clone URL is missing or not url-escaped"),
        ("git", "https%3A%2F%2Fexample.org%2Fr%3Bid/HEAD",
         "the URL 'https://example.org/r;id' contains a shell metacharacter"),
        ("git", "https%3A%2F%2Fu%3Apw%40example.org%2Fr/HEAD",
         "credentials in the URL are not supported"),
        ("git", "http%3A%2F%2Fu%3Apw%40example.org%2Fr/HEAD",
         "credentials in the URL are not supported"),
        ("git", "%2Ftmp%2Frepo/HEAD", "file:// URLs and local paths work only in local mode"),
        ("git", "ftp%3A%2F%2Fexample.org%2Fr/HEAD",
         "URL scheme 'ftp' is not one of http, https, git, ssh"),
        ("git", "http%3A%2F%2F10.0.0.7%2Fr/HEAD", LOCAL),
        ("zenodo", "10.1234/zenodo.1", "'10.1234/zenodo.1' is not a Zenodo DOI"),
        ("figshare", "10.6084/m9.figshare.x", "'10.6084/m9.figshare.x' is not a Figshare DOI"),
        ("dataverse", "11.7910/DVN/X", "'11.7910/DVN/X' is not a DOI"),
        ("hydroshare", "abc", "'abc' is neither a resource id nor a URL"),
        ("hydroshare", f"%3A%2F%2Fx.org%2F{HS_ID}", "URL scheme none is not one of http, https"),
        ("hydroshare", f"https%3A%2F%2Fexample.org%3Ax%2F{HS_ID}",
         f"'https://example.org:x/{HS_ID}' is not a valid URL"),
        ("hydroshare", f"http%3A%2F%2F%2F{HS_ID}", f"the URL 'http:///{HS_ID}' has no valid host"),
        ("hydroshare", f"http%3A%2F%2F-x.org%2F{HS_ID}",
         f"the URL 'http://-x.org/{HS_ID}' has no valid host"),
        ("hydroshare", f"http%3A%2F%2F127.0.0.1%2F{HS_ID}", LOCAL),
        ("ckan", "https%3A%2F%2Fx.org%2Fgroup%2Fa", "the URL must contain /dataset/<dataset id>"),
        ("ckan", f"{CKAN}%2Fresource%2Fb",
         "only /dataset/<id>/history/<activity id> may follow the id"),
        ("ckan", f"{CKAN}%3Fother%3D1",
         "the only query parameter allowed is activity_id"),
        ("ckan", f"{CKAN}%2Fhistory%2Fb%24", "'b$' is not a CKAN activity id"),
        ("ckan", f"{CKAN}%2Fhistory%2Fb%2Fc", "'b/c' is not a CKAN activity id"),
        ("ckan", f"{CKAN}%3Factivity_id%3Db%3Dc", "'b=c' is not a CKAN activity id"),
        ("ckan", f"{CKAN}%2Fdataset%2Fb",
         "only /dataset/<id>/history/<activity id> may follow the id"),
    ],
)  # fmt: skip
def test_each_refusal_says_what_is_wrong(provider: str, spec: str, expected: str) -> None:
    assert problem(provider, spec) == expected


@pytest.mark.parametrize(
    "path", ["https%3A%2F%2Fx.org%2F.%2Fdataset%2Fa", "https%3A%2F%2Fx.org%2Fdataset%2F..%2Fa",
             "https%3A%2F%2Fx.org%2Fdataset%2F%252e%252e%2Fa"],
)  # fmt: skip
def test_dot_segments_are_refused_in_url_paths_plain_or_encoded(path: str) -> None:
    assert problem("ckan", path) == "'.' and '..' are not allowed in URL paths"


def test_scp_like_clone_urls_become_ssh_urls_with_one_slash() -> None:
    assert parse_spec("git", "git%40github.com%3A%2Fu%2Fr.git/main") == GitSpec(
        "ssh://git@github.com/u/r.git", "main"
    )


def test_parse_git_refuses_local_paths_unless_asked() -> None:
    with pytest.raises(SpecError, match="work only in local mode"):
        parse_git("%2Ftmp%2Frepo/HEAD")
    assert parse_git("%2Ftmp%2Frepo/HEAD", allow_local=True).url == "file:///tmp/repo"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "file%3A%2F%2F%2Ftmp%2Frepo%3Fx%3D1/HEAD",
            "a file:// URL must be file:///<absolute path>",
        ),
        ("file%3A%2F%2F%2Ftmp%2Frepo%23x/HEAD", "a file:// URL must be file:///<absolute path>"),
        ("file%3A%2F%2Fhost%2Ftmp%2Frepo/HEAD", "a file:// URL must be file:///<absolute path>"),
        ("file%3Arelative/HEAD", "a local repository needs an absolute path without '..'"),
        ("%2Ftmp%2F..%2Fetc/HEAD", "a local repository needs an absolute path without '..'"),
    ],
)
def test_local_urls_say_what_form_they_need(spec: str, expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("git", spec, allow_local=True)
    assert caught.value.message.startswith(f"Invalid git spec: {expected}. Expected ")


def test_a_local_path_is_a_path_whatever_characters_it_holds() -> None:
    spec = parse_spec("git", "%2Ftmp%2Fwhat%3Fnow%23x/HEAD", allow_local=True)
    assert spec == GitSpec("file:///tmp/what%3Fnow%23x", "HEAD")


def test_the_provider_prefix_and_the_trailing_slash_are_taken_exactly() -> None:
    assert split_path("gh/u/r/X") == ("gh", "u/r/X")
    assert split_path("//gh/u/r/HEAD//") == ("gh", "u/r/HEAD")
    with pytest.raises(UnknownProviderError, match="'Xgh'"):
        split_path("Xgh/u/r/HEAD")
    assert parse_spec("gh", "u/r/X/") == GitHubSpec("u", "r", "X")


def test_ckan_datasets_may_be_served_over_http_too() -> None:
    url = "http://x.org/ckan/dataset/a"
    assert parse_spec("ckan", "http%3A%2F%2Fx.org%2Fckan%2Fdataset%2Fa") == CkanSpec(url, "a", None)


def test_an_scp_like_path_is_kept_as_written() -> None:
    assert parse_spec("git", "git%40github.com%3AXilinx%2Fbrevitas.git/main") == GitSpec(
        "ssh://git@github.com/Xilinx/brevitas.git", "main"
    )


def test_a_spec_of_the_longest_length_is_read() -> None:
    head, tail = "https%3A%2F%2Fexample.org%2F", "/HEAD"
    longest = head + "r" * (2048 - len(head) - len(tail)) + tail
    assert len(longest) == 2048
    assert parse_spec("git", longest).ref == "HEAD"  # type: ignore[union-attr]
    assert problem("git", longest[:-5] + "r/HEAD") == "the spec is longer than 2048 characters"


def test_values_in_messages_are_cut_after_their_limit_only() -> None:
    assert show("a" * 60) == repr("a" * 60)
    assert show("a" * 61) == repr("a" * 60 + "...")
    with pytest.raises(UnknownProviderError) as caught:
        parse_spec("x" * 21, "u/r/HEAD")
    assert caught.value.message.startswith(f"No provider found for prefix {'x' * 20 + '...'!r}. ")
    with pytest.raises(UnknownProviderError) as exact:
        parse_spec("x" * 20, "u/r/HEAD")
    assert exact.value.message.startswith(f"No provider found for prefix {'x' * 20!r}. ")
