"""Builder on CodeBuild: StartBuild of one project running repo2docker, logs from CloudWatch.

The repository URL, ref and image reach the build only as environment-variable overrides,
checked here first; the buildspec reads them as quoted variables, so nothing a user typed is
ever part of a command line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from skybinder.adapters.aws import names
from skybinder.adapters.aws.client_errors import error_code, error_message
from skybinder.adapters.aws.cloudwatch_logs import BuildLogs
from skybinder.domain.errors import BuilderBusyError, BuildError
from skybinder.service.ports import BuildJob, LogChunk

if TYPE_CHECKING:
    from mypy_boto3_codebuild import CodeBuildClient

MAX_URL = 2048
# What the nine providers give the builder (ResolvedRepo.repo_url), in the shapes the
# buildspec accepts: http(s) and git URLs (gh, gist, gl, git, a HydroShare or CKAN record's
# page), ssh URLs (git, normalised from user@host:path), and bare DOIs (Zenodo, Figshare,
# Dataverse), which repo2docker follows itself. A host never starts with "-".
_HOST = r"[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?"
_URL = re.compile(rf"(https?|git)://{_HOST}(/[A-Za-z0-9._~%+@:=?&/-]*)?")
_SSH = re.compile(rf"ssh://[A-Za-z0-9_][A-Za-z0-9._-]*@{_HOST}/[A-Za-z0-9._~%+@:=/-]+")
_DOI = re.compile(r"10\.[0-9]{4,9}/[A-Za-z0-9._;()/:-]{1,200}")
# Commit shas, branch and tag names, provider record versions: never an option, never blank.
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+=/-]{0,254}")  # as the buildspec's ref_re
_IMAGE = re.compile(r"[a-z0-9][a-z0-9_./-]{0,254}:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# StartBuild refuses, rather than queues, a build over the account's limit of concurrent builds
# ("Cannot have more than N builds in queue for the account") and over the project's
# concurrentBuildLimit; AccountLimitExceededException is the only limit error StartBuild has.
# ThrottlingException is what is left after botocore's own retries of a throttled call.
_BUSY = {"AccountLimitExceededException", "ThrottlingException"}


def check_job(job: BuildJob) -> None:
    """BuildError unless the job's values have the shape the buildspec expects."""
    url = job.repo_url
    shapes = (_URL, _SSH, _DOI)
    if len(url) > MAX_URL or not any(shape.fullmatch(url) for shape in shapes):
        raise BuildError(
            f"Cannot build {url[:200]!r}: the builder fetches http(s), git and ssh URLs and "
            "DOIs only."
        )
    if not _REF.fullmatch(job.ref) or ".." in job.ref:
        raise BuildError(f"Cannot build ref {job.ref[:100]!r}: it is not a plain git ref.")
    if not _IMAGE.fullmatch(job.image_name):
        raise BuildError(f"Cannot build an image named {job.image_name[:300]!r}.")


class CodeBuildBuilder:
    """One StartBuild per image; the store's claim_build makes sure of "one". A refusal for
    want of a free build slot is BuilderBusyError: the service queues the build."""

    def __init__(
        self,
        client: CodeBuildClient,
        logs: BuildLogs,
        project: str,
        image_uri: Callable[[str], str],
    ) -> None:
        self.client = client
        self.build_logs = logs
        self.project = project
        self.image_uri = image_uri  # image name -> the reference the build pushes

    def start(self, job: BuildJob) -> str:
        check_job(job)
        overrides = {
            names.BUILD_REPO_URL: job.repo_url,
            names.BUILD_REF: job.ref,
            names.BUILD_IMAGE_NAME: self.image_uri(job.image_name),
            names.BUILD_IMAGE_KEY: job.image_name,
        }
        try:
            build = self.client.start_build(
                projectName=self.project,
                environmentVariablesOverride=[
                    {"name": name, "value": value, "type": "PLAINTEXT"}
                    for name, value in overrides.items()
                ],
            )["build"]
        except Exception as err:
            code = error_code(err)
            if code in _BUSY:
                raise BuilderBusyError(
                    f"AWS CodeBuild started no build ({code}: {error_message(err)}): the "
                    "account's or the project's limit of concurrent builds is reached. Start "
                    "the build again when a running one ends."
                ) from err
            if code == "ResourceNotFoundException":
                raise BuildError(
                    f"The build project {self.project} does not exist. The operator should "
                    "check the deployment."
                ) from err
            raise
        return str(build["id"])

    def logs(self, build_id: str, cursor: str | None = None) -> LogChunk:
        return self.build_logs.read(build_id, cursor)

    def info(self) -> dict[str, object]:
        return {"build_image": "repo2docker", "builder": "AWS CodeBuild", "project": self.project}
