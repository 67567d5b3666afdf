"""Peak memory of ``xray-bench serve`` for large uploads of few bytes.

Starts a real server on 127.0.0.1 in a subprocess, around a small model
trained here, and sends: one solid 4096 x 4096 RGB PNG, eight of them at
once (eight requests), one 8192 x 8192, the 4096 x 4096 with
``explain=true``, and 32 files of 8192 x 8192 in one request. For each it
prints the server's peak resident memory above the idle server (the
kernel's high-water mark, reset before each case). The target is at most
300 MB above idle for any request within the default limits.

Run: ``python -m benchmarks.bench.bench_app_memory`` (Linux: reads ``/proc``).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np

from classifiers import FeatureXGBClassifier
from xray_features.synthetic import make_phantom_dataset

_START_SECONDS = 300


def _solid_png(side):
    import cv2

    rgb = np.zeros((side, side, 3), np.uint8)
    rgb[..., 1], rgb[..., 2] = 90, 160
    return cv2.imencode(".png", rgb)[1].tobytes()


def _train_model(folder):

    images, labels, names = make_phantom_dataset("fracture", n_images=60, size=64, seed=0,
                                                 difficulty="easy")
    model = FeatureXGBClassifier("edge", image_size=64, n_estimators=20)
    model.fit(images[:40], labels[:40], validation_data=(images[40:], labels[40:]))
    directory = model.save(Path(folder) / "edge-xgb")
    (directory / "input.json").write_text(json.dumps(
        {"class_names": list(names), "task": "binary", "load_size": None}))
    return directory


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024   # kB -> MB
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def _post(port, files, *, explain):
    boundary = uuid.uuid4().hex
    body = b"".join(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
        f"filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n".encode() + data + b"\r\n"
        for name, data in files) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict?explain={str(explain).lower()}", data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        answer = json.loads(error.read())
    return len(answer.get("results", [])), len(answer.get("errors", []))


def _wait_until_up(port, server):
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the server did not answer within {_START_SECONDS} s")


def _measure(pid, send):
    """Peak RSS (MB) while ``send()`` runs, and what it returned."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")   # resets VmHWM to VmRSS
    answer = send()
    return _status(pid, "VmHWM"), answer


def _concurrently(port, files, count, explain):
    answers = [None] * count

    def one(i):
        answers[i] = _post(port, files, explain=explain)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    done = [a for a in answers if a is not None]
    return sum(a[0] for a in done), sum(a[1] for a in done)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve-option", action="append", default=[], metavar="OPTION",
                        help="passed to xray-bench serve, e.g. --serve-option=--max-decodes=2")
    args = parser.parse_args(argv)
    png4k, png8k = _solid_png(4096), _solid_png(8192)
    cases = [
        ("one 4096x4096 RGB PNG", lambda port: _post(port, [("a.png", png4k)], explain=False)),
        ("eight 4096x4096 at once", lambda port: _concurrently(port, [("a.png", png4k)], 8,
                                                               False)),
        ("one 8192x8192 RGB PNG", lambda port: _post(port, [("b.png", png8k)], explain=False)),
        ("4096x4096 with explain=true", lambda port: _post(port, [("a.png", png4k)],
                                                           explain=True)),
        ("32 x 8192x8192 in one request",
         lambda port: _post(port, [(f"b{i}.png", png8k) for i in range(32)], explain=False)),
    ]
    with tempfile.TemporaryDirectory() as folder:
        model = _train_model(folder)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "benchmarks", "serve", str(model), "--host", "127.0.0.1",
             "--port", str(port), *args.serve_option],
            stdout=subprocess.DEVNULL, env=dict(os.environ))
        try:
            _wait_until_up(port, server)
            idle = _status(server.pid, "VmRSS")
            print(f"idle server: {idle:.0f} MB resident; load average "
                  f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
            print(f"{'case':34} {'peak above idle':>16} {'answered':>9} {'refused':>8}")
            for label, send in cases:
                peak, (answered, refused) = _measure(server.pid, lambda: send(port))
                print(f"{label:34} {peak - idle:13.0f} MB {answered:9d} {refused:8d}",
                      flush=True)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
