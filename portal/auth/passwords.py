"""Which passwords the portal refuses because they are easy to guess (ASVS 2.1.7).

Pure deciding logic: no database, no request. The list of common and leaked passwords
ships with the project (``data/common-passwords.txt``, lower case, sorted) and is read
once per process; lookups are case-insensitive.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

LIST_PATH = Path(__file__).with_name("data") / "common-passwords.txt"

# The password README and the demo publish: anyone can read it, so no real account may use it.
DEMO_PASSWORD = "portal-demo"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with LIST_PATH.open(encoding="utf-8") as fh:
        words = {line.strip().lower() for line in fh if line.strip() and not line.startswith("#")}
    words.add(DEMO_PASSWORD)
    return frozenset(words)


def is_common(password: str) -> bool:
    """On the shipped list (or the published demo password), ignoring case and outer spaces."""
    return (password or "").strip().lower() in common_passwords()


def contains_identity(password: str, username: str = "", name: str = "") -> str | None:
    """"username" or "name" if the password contains it (case-insensitive), else None.

    The name counts only when it has at least 4 characters (ignoring spaces), so that a short
    name such as "Li" does not forbid every password containing those letters.
    """
    folded = (password or "").casefold()
    if username and username.strip() and username.strip().casefold() in folded:
        return "username"
    compact = "".join((name or "").split()).casefold()
    if len(compact) >= 4 and (compact in "".join(folded.split())):
        return "name"
    return None
