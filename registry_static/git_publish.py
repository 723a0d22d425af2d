"""Publish into a registry kept in a git repository (what a GitHub/GitLab Pages site serves).

The remote is cloned once (shallow) into `<cache>/publish/git/<sha256(remote)[:16]>/` and fetched before
every publish; the registry's own `publish` runs on that work tree (same checks, same TUF signing), the
change is committed as `publish NAME VERSION` and pushed as a fast-forward. When the push is rejected
because someone published meanwhile, the work tree is reset to the new remote head and the publish is
redone on top of it, up to `attempts` times: never a force push, so the other publish is never lost.

Credentials in an https remote (`git+https://user:TOKEN@host/…`) never reach the work tree's
`.git/config` or an error message: they are passed to each git command as an `http.extraHeader`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_format.errors import PublishError, RegistryError, RegistryLayoutError
from plugin_format.paths import cache_dir
from registry_static.layout import LOCK_NAME
from registry_static.redact import redact_text, split_credentials

GIT_TIMEOUT = 300.0
_REJECTED = ("[rejected]", "fetch first", "non-fast-forward", "failed to update ref", "cannot lock ref")
_IDENTITY = ("extism-plugin", "publish@extism-platform.invalid")


@dataclass
class GitPublished:
    """The outcome: what was published, the commit pushed, how many pushes it took."""

    remote: str  # without credentials
    branch: str
    commit: str
    attempts: int
    published: list[Any] = field(default_factory=list)  # repository.Published
    site: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "branch": self.branch,
            "commit": self.commit,
            "attempts": self.attempts,
            "published": [p.to_dict() for p in self.published],
            "site": self.site,
        }


class GitRemote:
    """One remote and its cached work tree; every git call goes through `run` (no prompts, bounded time)."""

    def __init__(self, remote: str, work_root: Path | None = None) -> None:
        self.remote, auth = split_credentials(remote) if "://" in remote else (remote, None)
        self._config = ["-c", f"http.extraHeader=Authorization: {auth}"] if auth else []
        key = hashlib.sha256(self.remote.encode()).hexdigest()[:16]
        self.work = (work_root or cache_dir() / "publish" / "git") / key

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "LC_ALL": "C"}
        try:
            proc = subprocess.run(
                ["git", *self._config, *args],
                cwd=cwd or self.work,
                env=env,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT,
            )
        except FileNotFoundError:
            raise RegistryError(
                "git is not installed (Debian: apt-get install git); it is needed for a git registry"
            ) from None
        except subprocess.TimeoutExpired:
            raise RegistryError(f"git {args[0]} {self.remote}: no answer within {GIT_TIMEOUT:.0f} s") from None
        if check and proc.returncode != 0:
            raise RegistryError(f"git {args[0]} {self.remote}: {self._why(proc)}")
        return proc

    @staticmethod
    def _why(proc: subprocess.CompletedProcess[str]) -> str:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        useful = [ln for ln in lines if ln.startswith(("fatal:", "error:", "remote:", "!"))] or lines
        return redact_text("; ".join(useful[-3:]) or f"exit status {proc.returncode}")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One publisher at a time per work tree on this machine (other machines race through the push)."""
        self.work.parent.mkdir(parents=True, exist_ok=True)
        with open(self.work.with_name(self.work.name + ".lock"), "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def sync(self) -> str:
        """Make the work tree exactly the remote's head (clone on first use); return the branch."""
        if not (self.work / ".git").is_dir():
            staging = self.work.with_name(self.work.name + ".cloning")
            shutil.rmtree(staging, ignore_errors=True)
            self.run("clone", "--depth", "1", "--no-tags", self.remote, str(staging), cwd=self.work.parent)
            shutil.rmtree(self.work, ignore_errors=True)
            # the registry's writer lock is this machine's business, never a commit's
            (staging / ".git" / "info").mkdir(parents=True, exist_ok=True)
            (staging / ".git" / "info" / "exclude").write_text(f"/{LOCK_NAME}\n")
            staging.rename(self.work)  # a clone killed half-way is never taken for a work tree
        head = self.run("symbolic-ref", "--short", "HEAD").stdout.strip()
        if not self.run("rev-parse", "--verify", "-q", "HEAD", check=False).stdout.strip():
            raise RegistryLayoutError(
                f"git remote {self.remote} is empty: create the registry with `extism-registry init DIR`, then "
                "commit DIR's files and push them there (keep DIR.keys out of the repository)"
            )
        self.run("fetch", "--depth", "1", "--no-tags", "origin", head)
        self.run("reset", "--hard", "FETCH_HEAD")
        self.run("clean", "-fdx")
        return head

    def commit(self, message: str) -> bool:
        """Commit everything in the work tree; False when there was nothing to commit."""
        self.run("add", "-A")
        if self.run("diff", "--cached", "--quiet", check=False).returncode == 0:
            return False
        ident: list[str] = []
        if not self.run("config", "user.email", check=False).stdout.strip():
            ident = ["-c", f"user.name={_IDENTITY[0]}", "-c", f"user.email={_IDENTITY[1]}"]
        self.run(*ident, "commit", "-q", "-m", message)
        return True

    def push(self, branch: str) -> bool:
        """Push HEAD as a fast-forward; False when the remote moved on (someone else published)."""
        proc = self.run("push", "--porcelain", "origin", f"HEAD:refs/heads/{branch}", check=False)
        if proc.returncode == 0:
            return True
        if any(word in proc.stderr + proc.stdout for word in _REJECTED):
            return False
        raise RegistryError(f"git push {self.remote}: {self._why(proc)}")


def publish_to_git(
    remote: str,
    artifacts: list[Path],
    *,
    keys: Path | None,
    readme: Path | None = None,
    site: bool = False,
    attempts: int = 5,
    work_root: Path | None = None,
    before_push: Callable[[int], None] | None = None,
) -> GitPublished:
    """Publish `artifacts` into the registry in `remote`'s default branch and push the commit.
    `before_push(attempt)` runs just before each push (tests use it to publish from elsewhere first)."""
    from registry_static.repository import Repository  # lazy: keeps `import registry_static` light
    from registry_static.site import build_site

    if keys is None:
        raise PublishError(
            f"publishing to git remote {GitRemote(remote).remote} needs the registry's key directory: pass "
            "--keys DIR or set $EXTISM_REGISTRY_KEYS (or `keys:` beside `registry:` in the publish settings)"
        )
    git = GitRemote(remote, work_root)
    with git.locked():
        for attempt in range(1, attempts + 1):
            branch = git.sync()
            try:
                repo = Repository(git.work, keys)
            except RegistryLayoutError:
                raise RegistryLayoutError(
                    f"git remote {git.remote} holds no registry at its top level (no registry.json / "
                    "metadata/timestamp.json): create one with `extism-registry init DIR`, commit DIR's files "
                    "and push them"
                ) from None
            published = repo.publish(artifacts, readme=readme)
            site_doc = build_site(git.work) if site else None
            what = ", ".join(f"{p.name} {p.version}" for p in published)
            git.commit(f"publish {what}\n\nPublished with extism-plugin publish.")
            commit = git.run("rev-parse", "HEAD").stdout.strip()
            if before_push is not None:
                before_push(attempt)
            if git.push(branch):
                return GitPublished(git.remote, branch, commit, attempt, published, site_doc)
        raise PublishError(
            f"git remote {git.remote}: the push was rejected {attempts} times (others keep publishing to "
            f"{branch}); nothing of yours was pushed, run publish again"
        )
