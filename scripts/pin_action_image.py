#!/usr/bin/env python3
"""Point action.yml at a published image instead of the Dockerfile, for a release commit.

On `main`, action.yml says `image: Dockerfile`, so GitHub builds the image in every job that
uses the action. A release instead runs the image the release workflow pushed, pinned by digest:

    python3 scripts/pin_action_image.py --owner OWNER --version 1.2.3 \
        --digest sha256:<64 hex> [--action action.yml] [--out FILE]

writes `image: docker://ghcr.io/<owner>/osiris:<version>@sha256:<digest>`. `--digest-file F`
reads the digest from a file (what `docker buildx build --metadata-file` or
`podman push --digestfile` write). Only that one line changes; the rest of the file stays
byte for byte. Standard library only, so it runs on a bare runner.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REGISTRY = "ghcr.io"
IMAGE = "osiris"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_VERSION = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?")
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_IMAGE_LINE = re.compile(r"^(?P<indent>\s+)image:\s*(?P<value>\S.*?)\s*$")


class PinError(Exception):
    """A bad argument or an action.yml this script cannot rewrite; the message says what."""


def image_reference(owner: str, version: str, digest: str) -> str:
    version = version.removeprefix("v")
    if not _OWNER.fullmatch(owner):
        raise PinError(f"--owner {owner!r} is not a GitHub user or organization name")
    if not _VERSION.fullmatch(version):
        raise PinError(f"--version {version!r} is not a release version such as 1.2.3")
    if not _DIGEST.fullmatch(digest):
        raise PinError(f"--digest {digest!r} is not sha256: and 64 lower-case hex digits")
    # container registries want lower-case repository names; GitHub owners are case-insensitive
    return f"docker://{REGISTRY}/{owner.lower()}/{IMAGE}:{version}@{digest}"


def read_digest(path: Path) -> str:
    """The digest in a digest file (`sha256:...`) or a buildx metadata file (JSON)."""
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        text = str(json.loads(text).get("containerimage.digest", ""))
    return text


def pin(action_text: str, reference: str) -> str:
    """`action_text` with its `runs.image` set to `reference` (it must say `Dockerfile` now)."""
    lines = action_text.splitlines(keepends=True)
    in_runs = False
    found: list[int] = []
    for number, line in enumerate(lines):
        if re.match(r"^\S", line):
            in_runs = line.rstrip() == "runs:"
        elif in_runs:
            match = _IMAGE_LINE.match(line)
            if match:
                found.append(number)
    if len(found) != 1:
        raise PinError(f"expected one `image:` under `runs:`, found {len(found)}")
    match = _IMAGE_LINE.match(lines[found[0]])
    assert match is not None
    value = match.group("value").strip("'\"")
    if value != "Dockerfile":
        raise PinError(f"runs.image is {value!r}, not 'Dockerfile': is this already a release?")
    ending = "\n" if lines[found[0]].endswith("\n") else ""
    lines[found[0]] = f"{match.group('indent')}image: {reference}{ending}"
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--owner", required=True, help="the GHCR namespace (repository owner)")
    ap.add_argument("--version", required=True, help="the release version, e.g. 1.2.3 or v1.2.3")
    digest = ap.add_mutually_exclusive_group(required=True)
    digest.add_argument("--digest", help="the pushed image's digest, sha256:<64 hex>")
    digest.add_argument("--digest-file", type=Path, help="a file holding that digest")
    ap.add_argument("--action", type=Path, default=Path("action.yml"))
    ap.add_argument("--out", type=Path, help="where to write (default: --action, in place)")
    args = ap.parse_args(argv)
    try:
        value = args.digest if args.digest else read_digest(args.digest_file)
        reference = image_reference(args.owner, args.version, value)
        text = pin(args.action.read_text(encoding="utf-8"), reference)
    except (PinError, OSError, ValueError) as exc:
        print(f"pin_action_image: {exc}", file=sys.stderr)
        return 2
    (args.out or args.action).write_text(text, encoding="utf-8")
    print(reference)
    return 0


if __name__ == "__main__":
    sys.exit(main())
