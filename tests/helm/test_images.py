"""The Dockerfiles build from what the repository holds: every COPY source
exists and is in the build context, the entrypoint and pip extras exist, the
bases are pinned and the images run as the pods' non-root uid. (No Docker
here: the kind e2e builds them for real.)"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from helm_support import REPO

from locus.k8s.pods import RUN_AS_USER

IMAGES = REPO / "images"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# A base pinned by digest, or by a full x.y.z version in its tag.
PINNED = re.compile(r"(@sha256:[0-9a-f]{64}$)|(:[^:@/]*\d+\.\d+\.\d+[^:@/]*$)")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(dockerfile: Path) -> list[Instruction]:
    """Comment lines dropped, continuation lines joined."""
    out, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        out.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return out


def stages(dockerfile: Path) -> list[list[Instruction]]:
    """The instructions of each build stage; the global ARGs are stage 0's."""
    out: list[list[Instruction]] = [[]]
    for instruction in instructions(dockerfile):
        if instruction.keyword == "FROM":
            out.append([])
        out[-1].append(instruction)
    return out


def global_args(dockerfile: Path) -> dict[str, str]:
    args = {}
    for instruction in stages(dockerfile)[0]:
        name, _, default = instruction.arguments.partition("=")
        args[name] = default
    return args


def base_images(dockerfile: Path) -> list[str]:
    args = global_args(dockerfile)
    bases = []
    for stage in stages(dockerfile)[1:]:
        image = stage[0].arguments.split()[0]
        bases.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return bases


def exec_form(instruction: Instruction) -> list[str]:
    assert instruction.arguments.startswith("["), f"{instruction.keyword} must use the exec (JSON) form"
    return [part.strip().strip('"') for part in instruction.arguments.strip("[]").split(",")]


def dockerignore_includes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    patterns = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        regex = re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            included = negated
    return included


def copy_sources(dockerfile: Path) -> list[str]:
    """The build-context paths COPY/ADD read (not those of --from=stage copies)."""
    sources = []
    for instruction in instructions(dockerfile):
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        words = shlex.split(instruction.arguments)
        flags = [w for w in words if w.startswith("--")]
        if any(flag.startswith("--from=") for flag in flags):
            continue
        sources += [w for w in words if not w.startswith("--")][:-1]
    return sources


def final_stage(dockerfile: Path) -> list[Instruction]:
    return stages(dockerfile)[-1]


def test_there_are_the_three_images() -> None:
    assert [p.parent.name for p in DOCKERFILES] == ["examples", "system", "user-code"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_copied_path_exists_and_is_in_the_build_context(dockerfile: Path) -> None:
    sources = copy_sources(dockerfile)
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"{dockerfile.parent.name}: COPY {source}: no such path in the repository"
        assert dockerignore_includes(source.rstrip("/")), f"{dockerfile.parent.name}: .dockerignore excludes {source}"
        if (REPO / source).is_dir():
            sample = next(p for p in (REPO / source).rglob("*.py") if "__pycache__" not in p.parts)
            assert dockerignore_includes(str(sample.relative_to(REPO))), f".dockerignore excludes {sample}"


def test_the_build_context_leaves_out_what_the_images_do_not_need() -> None:
    for path in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", "sdk/locus/__pycache__/x.pyc", ".cache"):
        assert not dockerignore_includes(path), path


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_bases_are_pinned(dockerfile: Path) -> None:
    for base in base_images(dockerfile):
        if base.startswith("locus-user-code:"):
            assert base == f"locus-user-code:{PROJECT['version']}"
        else:
            assert PINNED.search(base), f"{dockerfile.parent.name}: FROM {base} is not pinned to a version or digest"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_runs_as_the_pods_non_root_uid(dockerfile: Path) -> None:
    users = [i.arguments for i in instructions(dockerfile) if i.keyword == "USER"]
    if dockerfile.parent.name == "examples":
        assert users == []  # inherits the user-code image's
        return
    assert users[-1] == f"{RUN_AS_USER}:{RUN_AS_USER}", "pods run as this uid (sdk/locus/k8s/pods.py)"
    runs = " ".join(i.arguments for i in final_stage(dockerfile) if i.keyword == "RUN")
    assert f"--uid {RUN_AS_USER}" in runs and f"--gid {RUN_AS_USER}" in runs


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_entrypoint_and_extras_exist_in_the_package(dockerfile: Path) -> None:
    if dockerfile.parent.name == "examples":
        return
    (entrypoint,) = [i for i in final_stage(dockerfile) if i.keyword == "ENTRYPOINT"]
    assert exec_form(entrypoint)[0] in PROJECT["scripts"]
    installs = [i.arguments for i in instructions(dockerfile) if i.keyword == "RUN" and "pip install" in i.arguments]
    (install,) = installs
    extras = re.search(r'"\.\[([a-z0-9,]+)\]"', install)
    assert extras, install
    wanted = set(extras.group(1).split(","))
    assert wanted <= set(PROJECT["optional-dependencies"])
    # The chart runs `locus operator run` in the system image; run workers reach PostgreSQL.
    expected = {"system": {"postgres", "operator", "s3"}, "user-code": {"postgres", "s3"}}
    assert wanted == expected[dockerfile.parent.name]


def test_user_code_and_example_images_keep_code_where_code_locations_look() -> None:
    codelocation = (REPO / "e2e" / "kind" / "codelocation.yaml").read_text()
    workdir = [i.arguments for i in final_stage(IMAGES / "user-code" / "Dockerfile") if i.keyword == "WORKDIR"]
    assert workdir == ["/opt/locus/app"]
    assert "workingDirectory: /opt/locus/app" in codelocation
    (copy,) = [i.arguments for i in instructions(IMAGES / "examples" / "Dockerfile") if i.keyword == "COPY"]
    assert copy == "examples/ /opt/locus/app/"
    assert "ONBUILD" not in {i.keyword for p in DOCKERFILES for i in instructions(p)}
