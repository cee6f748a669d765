"""Helpers for scripts/install-pulumi.sh (Go module metadata -> what the build needs).

python3 pseudo_version.py INFO_FILE   the pseudo-version of the commit a tag's .info names
python3 pseudo_version.py --replaces   (go mod edit -json on stdin) non-local replaces, as old=new@v
"""

from __future__ import annotations

import datetime
import json
import sys


def pseudo_version(info_path: str) -> str:
    """``v3.0.0-<UTC commit time>-<12 hex>``: how Go names an untagged v3 module's commit."""
    with open(info_path) as f:
        info = json.load(f)
    commit = info.get("Origin", {}).get("Hash")
    if not commit:
        raise SystemExit("the proxy's record of pkg/v3 names no commit; set PULUMI_LANGUAGE_PYTHON_VERSION")
    when = datetime.datetime.fromisoformat(info["Time"].replace("Z", "+00:00")).astimezone(datetime.UTC)
    return f"v3.0.0-{when:%Y%m%d%H%M%S}-{commit[:12]}"


def replaces(gomod: dict[str, object]) -> list[str]:
    """The replace directives that work outside their repository (not ``=> ../path``)."""
    out = []
    for r in gomod.get("Replace") or []:  # type: ignore[attr-defined]
        old, new = r["Old"], r["New"]
        if new["Path"].startswith("."):
            continue
        source = old["Path"] + ("@" + old["Version"] if old.get("Version") else "")
        out.append(f"{source}={new['Path']}@{new['Version']}")
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--replaces"]:
        print("\n".join(replaces(json.load(sys.stdin))))
    else:
        print(pseudo_version(sys.argv[1]))
