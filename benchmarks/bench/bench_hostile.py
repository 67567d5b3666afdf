"""Run ``xray-bench`` against a corpus of hostile inputs and tabulate what happens.

``python -m benchmarks.bench.bench_hostile --out DIR`` builds, in a temporary
folder, one small case per known way to break a benchmarking tool (FIFOs and
devices named like images, sparse and bomb files, huge sizes, bad CSVs and
DICOMs, symlinks, paths leading out of the data, names that are not UTF-8,
foreign or booby-trapped output folders, bad settings, tampered model
folders ...) and runs each through ``xray-bench run`` or ``predict`` in a
subprocess with a time limit. For each case it records the exit code, the
first line of the message, seconds, peak memory (``os.wait4``'s
``ru_maxrss`` of that child), whether a Python traceback reached stderr,
whether anything outside the case's ``--out`` folder was created, changed
or deleted (a snapshot of the whole corpus, sentinel files included, before
and after), and whether the outcome is the expected one. It prints a
markdown table and totals, and writes ``hostile.md`` and ``hostile.json``
to ``DIR``.

Cases are data (:data:`CASES`, in :mod:`benchmarks.bench._hostile_cases`): a name, the
side of the toolkit it probes
(``input`` or ``output``), a builder that makes the files and returns the
command, and the expected outcome: ``error`` (non-zero exit with a message
holding a phrase), ``skip`` (exit 0 or 1 with the phrase reported), ``ok``
or ``any`` (only no hang, no traceback, nothing touched outside ``--out``).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from benchmarks.bench._hostile_cases import CASES

__all__ = ["CASES", "run_case", "main"]


# ------------------------------------------------------------------- running
def _snapshot(root, skip):
    """{relative path: (mode, size, digest)} of everything below root, without
    following links or opening anything but small regular files."""
    found = {}
    for folder, dirs, files in os.walk(root):
        if os.path.abspath(folder) == skip or os.path.abspath(folder).startswith(skip + os.sep):
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.abspath(path) == skip:
                continue
            info = os.lstat(path)
            digest = None
            if stat.S_ISREG(info.st_mode) and info.st_size <= 8 * 2 ** 20:
                with open(path, "rb") as handle:
                    digest = hashlib.sha1(handle.read()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                digest = os.readlink(path)
            rel = os.path.relpath(path, root)
            found[rel] = (stat.S_IFMT(info.st_mode), None if stat.S_ISDIR(info.st_mode)
                          else info.st_size, digest)
    return found


def _execute(argv, *, shell=False, timeout=60, drop_root_reads=False, cwd=None):
    """Run one command; return (code or None on timeout, stdout, stderr, seconds, peak MB)."""
    command = argv if shell else [sys.executable, "-m", "benchmarks", *argv]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONDONTWRITEBYTECODE": "1"}
    if drop_root_reads:   # root without the capabilities that let it read a chmod 000 folder
        command = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                   "--bounding-set=-dac_override,-dac_read_search", *command]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, shell=shell, stdout=out, stderr=err, env=env,
                                   cwd=cwd, start_new_session=True,
                                   executable="/bin/bash" if shell else None)
        timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        timed_out = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL \
            and seconds >= timeout
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "backslashreplace")
        stderr = err.read().decode("utf-8", "backslashreplace")
    return (None if timed_out else process.returncode), stdout, stderr, seconds, \
        usage.ru_maxrss / 1024


def _message(stdout, stderr):
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for marker in ("xray-bench:", "Error", "Warning"):
        for line in lines:
            if marker in line:
                return line
    return lines[0] if lines else next((line for line in stdout.splitlines() if line.strip()), "")


def run_case(case, corpus, timeout=60):
    """Build and run one case; return its row as a dict."""
    folder = os.path.join(corpus, "cases", case.name.translate(
        str.maketrans({c: "_" for c in " /:,=\"'|.-+@"})))
    os.makedirs(folder)
    row = {"case": case.name, "side": case.side, "expect": case.expect}
    nobody = case.drop_root_reads and os.geteuid() == 0 and shutil.which("setpriv") is not None
    try:
        spec = case.build(folder, corpus)
    except Exception as exc:   # noqa: BLE001 - a case that cannot be built is reported
        return {**row, "verdict": f"not built: {exc}"}
    for argv in spec.get("setup", []):
        code, _, stderr, _, _ = _execute(argv, timeout=timeout * 2)
        if code != 0:
            return {**row, "verdict": f"setup failed: {_message('', stderr)}"}
    if spec.get("after_setup"):
        spec["after_setup"]()
    out = os.path.abspath(os.path.join(folder, spec.get("out", "out")))
    keep = {name: _snapshot_file(os.path.join(folder, name)) for name in spec.get("keep", [])}
    before = _snapshot(corpus, out)
    code, stdout, stderr, seconds, peak = _execute(
        spec["argv"], shell=spec.get("shell", False), timeout=timeout, drop_root_reads=nobody)
    after = _snapshot(corpus, out)
    touched = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    lost = [name for name, digest in keep.items()
            if _snapshot_file(os.path.join(folder, name)) != digest]
    text = stdout + stderr
    # Short messages: no corpus paths, no "file.py:123: " prefix of warnings.
    message = _message(stdout, stderr).replace(folder + os.sep, "").replace(corpus, "<corpus>")
    message = re.sub(r"^\S+\.py:\d+: ", "", message)
    row.update(exit=code, message=message[:140], seconds=round(seconds, 1),
               peak_mb=round(peak), traceback="Traceback (most recent call last)" in stderr,
               touched=touched[:3], n_touched=len(touched), lost=lost,
               drop_root_reads=nobody)
    problem = spec["check"](folder) if spec.get("check") and code is not None else None
    row["verdict"] = _verdict(case, code, text, row, problem)
    return row


def _snapshot_file(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha1(handle.read()).hexdigest()
    except OSError:
        return None


def _verdict(case, code, text, row, problem):
    if code is None:
        return "HANG"
    if row["traceback"]:
        return "TRACEBACK"
    if row["n_touched"]:
        return "TOUCHED OUTSIDE --out"
    if row["lost"]:
        return f"USER FILE CHANGED ({row['lost'][0]})"
    if problem:
        return f"WRONG: {problem}"
    found = case.phrase is None or case.phrase in text
    if case.expect == "error":
        return "clear error" if code not in (0, 1) and found else \
            f"WRONG: exit {code}" + ("" if found else f", no '{case.phrase}'")
    if case.expect == "skip":
        return "reported skip" if code in (0, 1) and found else \
            f"WRONG: exit {code}" + ("" if found else f", no '{case.phrase}'")
    if case.expect == "ok":  # 141: stopped quietly because its reader closed the pipe
        return "ok" if code in (0, 141) else f"WRONG: exit {code}"
    return "ok" if code in (0, 1, 2) else f"WRONG: exit {code}"


def _table(rows):
    lines = ["| case | side | expected | exit | message (first line) | s | peak MB | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        message = str(row.get("message", "")).replace("|", "\\|")
        lines.append(f"| {row['case']} | {row['side']} | {row['expect']} | "
                     f"{'timeout' if row.get('exit', 0) is None else row.get('exit', '')} | "
                     f"{message} | {row.get('seconds', '')} | {row.get('peak_mb', '')} | "
                     f"{row['verdict']} |")
    return "\n".join(lines)


def _totals(rows):
    good = ("clear error", "reported skip", "ok")
    return {"cases": len(rows),
            "as expected": sum(row["verdict"] in good for row in rows),
            "clear errors": sum(row["verdict"] == "clear error" for row in rows),
            "reported skips": sum(row["verdict"] == "reported skip" for row in rows),
            "tracebacks": sum(bool(row.get("traceback")) for row in rows),
            "hangs": sum(row["verdict"] == "HANG" for row in rows),
            "files touched outside --out": sum(row.get("n_touched", 0) for row in rows),
            "user files changed": sum(len(row.get("lost", [])) for row in rows),
            "input side as expected": sum(row["verdict"] in good for row in rows
                                          if row["side"] == "input"),
            "input cases": sum(row["side"] == "input" for row in rows)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for hostile.md and hostile.json")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a hang")
    parser.add_argument("--only", help="run the cases whose name contains this text")
    parser.add_argument("--keep", action="store_true", help="keep the corpus folder")
    args = parser.parse_args(argv)
    cases = [case for case in CASES if not args.only or args.only in case.name]
    corpus = tempfile.mkdtemp(prefix="xray-hostile-")
    os.chmod(corpus, 0o755)
    os.makedirs(os.path.join(corpus, "sentinel"))
    from xray_features.io import save_image

    save_image(os.path.join(corpus, "sentinel", "secret.png"), np.full((32, 32), 255, np.uint8))
    rows = []
    try:
        for case in cases:
            row = run_case(case, corpus, timeout=args.timeout)
            rows.append(row)
            print(f"{row['case']}: {row['verdict']} ({row.get('seconds', '-')} s)",
                  file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            for path, dirs, _ in os.walk(corpus):   # unlock chmod 000 folders first
                for name in dirs:
                    os.chmod(os.path.join(path, name), 0o755, follow_symlinks=False) \
                        if not os.path.islink(os.path.join(path, name)) else None
            shutil.rmtree(corpus, ignore_errors=True)
    totals = _totals(rows)
    text = _table(rows) + "\n\n" + ", ".join(f"{k}: {v}" for k, v in totals.items())
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "hostile.md"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    with open(os.path.join(args.out, "hostile.json"), "w", encoding="utf-8") as handle:
        json.dump({"rows": rows, "totals": totals}, handle, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
