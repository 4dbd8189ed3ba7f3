"""Every spec-format rule on its own: each case breaks one rule, and the message names it."""

from __future__ import annotations

import pytest

from skybinder.domain.errors import SpecError
from skybinder.domain.spec_rules import FORMS, ref_problem
from skybinder.domain.specs import (
    FigshareSpec,
    GistSpec,
    HydroshareSpec,
    ZenodoSpec,
    parse_spec,
)

HS_ID = "b8f6eae9d89241cf8b5904033460af61"
HS_OTHER = "0123456789abcdef0123456789abcdef"
SHA = "0123456789abcdef0123456789abcdef01234567"


def problem(provider: str, spec: str) -> str:
    """What the SpecError for `spec` says is wrong, between "Invalid <p> spec: " and the form."""
    with pytest.raises(SpecError) as caught:
        parse_spec(provider, spec)
    message = caught.value.message
    form, example = FORMS[provider]
    head, tail = f"Invalid {provider} spec: ", f". Expected {form}, e.g. {example}"
    assert message.startswith(head) and message.endswith(tail), message
    return message.removeprefix(head).removesuffix(tail)


# -- git ref names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("a" * 256, "is longer than 255 characters"),
        ("a~1", "contains one of ~^:?*[\\;|&$`<>\"' "),
        ("a;b", "contains one of ~^:?*[\\;|&$`<>\"' "),
        ("-rf", "starts with '-'"),
        ("a..b", "contains '..' or '@{'"),
        ("HEAD@{1}", "contains '..' or '@{'"),
        ("@", "contains '..' or '@{'"),
        ("/main", "has an empty part"),
        ("main/", "has an empty part"),
        ("a//b", "has an empty part"),
        ("v1.", "ends with '.'"),
        (".hidden", "has a part starting with '.' or ending with '.lock'"),
        ("a/.b", "has a part starting with '.' or ending with '.lock'"),
        ("x.lock", "has a part starting with '.' or ending with '.lock'"),
        ("x.lock/y", "has a part starting with '.' or ending with '.lock'"),
    ],
)
def test_each_ref_rule_names_what_git_refuses(ref: str, expected: str) -> None:
    assert ref_problem(ref) == expected


@pytest.mark.parametrize(
    "ref", ["main", "a" * 255, "feature/x", "v1.0.2", "a-b", "x@y", "a./b", "lock", "x.locks", SHA]
)
def test_names_git_accepts_pass(ref: str) -> None:
    assert ref_problem(ref) is None


@pytest.mark.parametrize(
    ("provider", "spec"),
    [("gh", "u/r//main"), ("gl", "group%2Fproject//main"), ("gh", "u/r/%2Fmain")],
)
def test_refs_starting_with_a_slash_are_refused_in_every_provider(provider: str, spec: str) -> None:
    assert problem(provider, spec) == "the ref '/main' has an empty part"


def test_a_git_spec_whose_ref_starts_with_a_slash_has_an_unescaped_url() -> None:
    assert problem("git", "https%3A%2F%2Fexample.org%2Fr//main") == (
        "the clone URL is missing or not url-escaped"
    )


def test_a_missing_ref_is_named() -> None:
    assert problem("gl", "group%2Fproject/") == "the ref is missing"
    assert problem("git", "https%3A%2F%2Fexample.org%2Fr") == "the ref is missing"


# -- gists ----------------------------------------------------------------------------------


def test_gist_ids_are_hexadecimal_and_at_most_64_digits() -> None:
    assert parse_spec("gist", "u/0123456789abcdefABCDEF") == GistSpec(
        "u", "0123456789abcdefABCDEF", ""
    )
    assert parse_spec("gist", "u/" + "f" * 64).gist_id == "f" * 64  # type: ignore[union-attr]
    assert problem("gist", "u/abcdefg") == "'abcdefg' is not a gist id"
    assert problem("gist", "u/" + "f" * 65) == f"{'f' * 60 + '...'!r} is not a gist id"


def test_gist_revisions_are_a_name_for_the_newest_or_a_full_sha() -> None:
    for latest in ("HEAD", "master", "main"):
        assert parse_spec("gist", f"u/abc/{latest}") == GistSpec("u", "abc", latest)
    assert parse_spec("gist", f"u/abc/{SHA}") == GistSpec("u", "abc", SHA)
    expected = "the revision must be HEAD or a 40-character revision sha"
    assert problem("gist", "u/abc/v1") == expected
    assert problem("gist", f"u/abc/{SHA[:39]}") == expected


def test_gist_specs_have_two_or_three_parts_and_a_github_user() -> None:
    expected = "expected a user, a gist id and optionally a revision"
    assert problem("gist", "u") == expected
    assert problem("gist", "u/abc/HEAD/x") == expected
    assert problem("gist", "u//abc") == expected
    assert problem("gist", "-u/abc") == "'-u' is not a GitHub user or organisation name"


# -- DOIs -----------------------------------------------------------------------------------


def test_dataverse_doi_prefixes_have_four_to_nine_digits() -> None:
    for prefix in ("1234", "123456789"):
        parse_spec("dataverse", f"10.{prefix}/DVN/X")
    for prefix in ("123", "1234567890", "12a4"):
        assert problem("dataverse", f"10.{prefix}/DVN/X") == f"'10.{prefix}/DVN/X' is not a DOI"


def test_dataverse_dois_have_no_empty_or_dot_parts() -> None:
    for doi in ("10.7910/DVN//X", "10.7910/DVN/./X", "10.7910/%2E%2E"):
        assert problem("dataverse", doi).endswith("is not a DOI")


def test_zenodo_dois_name_a_record_of_at_most_12_digits() -> None:
    assert parse_spec("zenodo", "10.5072/ZENODO.12") == ZenodoSpec("10.5072/ZENODO.12", "12")
    assert parse_spec("zenodo", "10.5281/zenodo." + "9" * 12).record_id == "9" * 12  # type: ignore[union-attr]
    for doi in ("10.5281/zenodo." + "9" * 13, "10.5282/zenodo.1", "10.5281/zenodo.1.v2"):
        assert problem("zenodo", doi) == f"{doi!r} is not a Zenodo DOI"


def test_figshare_versions_are_numbers_from_one() -> None:
    assert parse_spec("figshare", "10.6084/m9.figshare.12.v3") == FigshareSpec(
        "10.6084/m9.figshare.12.v3", "12", 3
    )
    assert parse_spec("figshare", "10.6084/M9.FIGSHARE.12.V10").version == 10  # type: ignore[union-attr]
    for doi in (
        "10.6084/m9.figshare.12.v",
        "10.6084/m9.figshare.12.v0",
        "10.6084/m9.figshare.12.",
        "10.6084/m9.figshare.12.v1234567",
        "10.6084/m9.figshare." + "1" * 13,
    ):
        assert problem("figshare", doi) == f"{doi!r} is not a Figshare DOI"  # fmt: skip


# -- HydroShare -----------------------------------------------------------------------------


def test_hydroshare_resource_ids_are_32_lowercase_hex_digits() -> None:
    assert parse_spec("hydroshare", HS_ID) == HydroshareSpec(HS_ID)
    for wrong in (HS_ID[:-1], HS_ID + "0", HS_ID.upper(), HS_ID[:-1] + "g"):
        assert problem("hydroshare", wrong) == f"{wrong!r} is neither a resource id nor a URL"


def test_a_hydroshare_url_names_exactly_one_resource() -> None:
    url = "https%3A%2F%2Fwww.hydroshare.org%2Fresource%2F"
    assert parse_spec("hydroshare", f"http%3A%2F%2Fexample.org%2F{HS_ID}") == HydroshareSpec(HS_ID)
    assert (
        problem("hydroshare", f"{url}{HS_ID}%2F{HS_OTHER}") == "no 32-character resource id found"
    )
    assert problem("hydroshare", f"{url}{HS_ID}0") == "no 32-character resource id found"
    assert problem("hydroshare", f"{url}x{HS_ID}") == "no 32-character resource id found"
    assert problem("hydroshare", f"ftp%3A%2F%2Fexample.org%2F{HS_ID}") == (
        "URL scheme 'ftp' is not one of http, https"
    )
