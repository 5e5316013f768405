"""First-use set-up for the comparison scripts: what the peers need, installed
from Debian's repositories (apt; root or sudo), and the library's own build
tools (tools/ensure_deps.sh). A fresh Debian 12 machine runs any of
compare.py, compare_layers.py and gemm_compare.py with nothing installed
beforehand."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Debian's PyTorch lives in the system interpreter's dist-packages, not in a
# virtualenv's or pyenv's.
SYSTEM_PYTHON = "/usr/bin/python3"


def ensure_packages(packages: list[str]) -> None:
    """Installs those of the Debian packages not installed yet, and Bazel and
    the library's build dependencies."""
    subprocess.run([os.path.join(ROOT, "tools", "ensure_deps.sh")], check=True)
    missing = [p for p in packages
               if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
               .stdout.find("install ok installed") < 0]
    if not missing:
        return
    print(f"# installing {' '.join(missing)} (first run only)", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run_or_exit(sudo + ["apt-get", "update", "-qq"], env=env)
    run_or_exit(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing, env=env)


def run_or_exit(command: list[str], **kwargs) -> None:
    """Runs a set-up command quietly; if it fails, exits with the end of its
    output (an installer's reason: no network, a proxy's certificate, ...)."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        sys.exit(f"{tail}\nset-up failed ({' '.join(command)}: exit code {done.returncode})")


def ensure_system_python() -> None:
    """Re-runs the calling script under Debian's python3 when started by
    another interpreter (which cannot import Debian's torch)."""
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON):
        print(f"# re-running under {SYSTEM_PYTHON} (Debian's python3-torch)", file=sys.stderr)
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, *sys.argv])
