"""Issues 9 and 23: download never keeps a short, stalled, endless or unverifiable transfer, and says what went wrong.

A loopback HTTP server that misbehaves on purpose; no test touches the internet."""
from __future__ import annotations

import errno
import http.server
import os
import threading
import time

import pytest

import importlib

from course.data import download
from course.data.download import IncompleteDownloadError

dl = importlib.import_module("course.data.download")  # the module (course.data.download is also the function)
BODY = bytes(range(256)) * 4000  # 1 MB


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """/short: announces 1 MB, sends half.  /bogus: Content-Length "lots".  /stall: sends 1 kB, then nothing.
    /ok: the whole body.  /nolength: the whole body without Content-Length.  Endless ones (issue 23), each stopping
    after a few seconds at most: /drip announces 1 MB, then sends 1 byte every 20 ms; /endless sends 64 kB every
    10 ms without a length; /slow announces 1 MB, then sends 4 kB every 10 ms (400 kB/s)."""

    TRICKLES = {"/drip": (1, 0.02, 8), "/endless": (65536, 0.01, 5), "/slow": (4096, 0.01, 8)}  # piece, pause, limit

    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            pass

    def _answer(self):
        self.send_response(200)
        if self.path == "/bogus":
            self.send_header("Content-Length", "lots")
        elif self.path not in ("/nolength", "/endless"):
            self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        if self.path in self.TRICKLES:
            piece, pause, limit = self.TRICKLES[self.path]
            start = time.monotonic()
            while time.monotonic() - start < limit:
                self.wfile.write(BODY[:piece])
                self.wfile.flush()
                time.sleep(pause)
        elif self.path == "/short":
            self.wfile.write(BODY[: len(BODY) // 2])
        elif self.path == "/stall":
            self.wfile.write(BODY[:1024])
            self.wfile.flush()
            time.sleep(4)
        else:
            self.wfile.write(BODY)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def nothing_left(target):
    return not target.exists() and not target.with_name(target.name + ".part").exists()


def test_short_body_is_refused_without_checksum(server, tmp_path):
    target = tmp_path / "UCF101.rar"
    with pytest.raises(IncompleteDownloadError, match=r"got 512000 bytes .*, but the server announced \(Content-Length\) 1024000 bytes"):
        download(f"{server}/short", target, sha256=None, progress=False)
    assert nothing_left(target) and list(tmp_path.iterdir()) == []


def test_short_body_is_a_connection_error_so_datasets_print_instructions(server, tmp_path):
    with pytest.raises(ConnectionError):
        download(f"{server}/short", tmp_path / "x.zip", sha256=None, progress=False)


def test_bogus_content_length_is_a_clear_error(server, tmp_path):
    target = tmp_path / "x.zip"
    with pytest.raises(IncompleteDownloadError, match="bogus Content-Length header 'lots'"):
        download(f"{server}/bogus", target, sha256=None, progress=False)
    assert nothing_left(target)


def test_known_size_is_checked_even_without_content_length(server, tmp_path):
    target = tmp_path / "x.zip"
    with pytest.raises(IncompleteDownloadError, match="sent more than the 999 bytes the file is known to be"):
        download(f"{server}/nolength", target, sha256=None, size=999, progress=False)
    assert nothing_left(target)
    with pytest.raises(IncompleteDownloadError, match="announces 1024000 bytes but this file is known to be 5 bytes"):
        download(f"{server}/ok", target, sha256=None, size=5, progress=False)
    assert nothing_left(target)
    assert download(f"{server}/ok", target, sha256=None, size=len(BODY), progress=False).read_bytes() == BODY
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="download.size"):
            download(f"{server}/ok", target, sha256=None, size=bad, progress=False)
    with pytest.raises(ValueError, match="download.timeout"):
        download(f"{server}/ok", target, sha256=None, timeout=0, progress=False)


def test_full_disk_is_reported_as_a_full_disk(server, tmp_path, monkeypatch):
    real_open = open

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dl, "open", lambda *a, **k: FullDisk(real_open(*a, **k)), raising=False)
    target = tmp_path / "x.zip"
    with pytest.raises(OSError, match="disk is full") as err:
        download(f"{server}/ok", target, sha256=None, progress=False)
    assert err.value.errno == errno.ENOSPC and not isinstance(err.value, ConnectionError)
    assert nothing_left(target)


def test_official_archive_sizes_are_recorded_only_where_published_and_passed_to_download(tmp_path, monkeypatch):
    from course.data import real_datasets as rd

    assert rd.KNOWN_SIZES == {"UCF101TrainTestSplits-RecognitionTask.zip": 113943}
    seen = {}

    def fake_download(url, target, *, sha256, size=None, **kwargs):
        seen[target.name] = size
        raise ConnectionError("offline")

    monkeypatch.setattr(rd, "download", fake_download)
    with pytest.raises(rd.DatasetNotFoundError):
        rd.UCF101.download(tmp_path)
    assert seen == {"UCF101TrainTestSplits-RecognitionTask.zip": 113943}
    with pytest.raises(rd.DatasetNotFoundError):
        rd.KTH.download(tmp_path)
    assert seen["boxing.zip"] is None


# --- issue 23: a cap while streaming, a stall detector, an optional deadline ---------------------------------------

ENDLESS = {  # path, download() arguments, the error, seconds it may take at most (the server goes on for 4-8 s)
    "silent server: the read timeout": ("/stall", dict(timeout=0.5), r"stalled: no data for 0.5 s after \d+ bytes",
                                        3.5),
    "one byte every 20 ms: the stall window": ("/drip", dict(stall_window=0.5),
                                               r"stalled: only \d+ bytes in the last 0.5 s", 3),
    "endless body, known size: the cap": ("/endless", dict(size=len(BODY)), f"sent more than the {len(BODY)} bytes",
                                          2.5),
    "slow but steady: the optional deadline": ("/slow", dict(deadline=1), r"took longer than deadline=1 s", 3),
}


@pytest.mark.parametrize("case", sorted(ENDLESS))
def test_a_transfer_that_would_go_on_for_long_is_stopped_early(server, tmp_path, case):
    path, kwargs, error, seconds = ENDLESS[case]
    target = tmp_path / "x.zip"
    start = time.monotonic()
    with pytest.raises(IncompleteDownloadError, match=error):
        download(f"{server}{path}", target, sha256=None, progress=False, **kwargs)
    assert time.monotonic() - start < seconds, "download() must end the transfer, not the server"
    assert nothing_left(target)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_file_url_of_an_endless_device_stops(tmp_path):
    target = tmp_path / "zeros.bin"
    with pytest.raises(IncompleteDownloadError, match="sent more than"):
        download("file:///dev/zero", target, sha256=None, progress=False)
    assert nothing_left(target)


def test_stall_window_min_rate_and_deadline_are_checked(server, tmp_path):
    target = tmp_path / "x.zip"
    for name, bad in (("stall_window", 0), ("stall_window", float("nan")), ("min_rate", -1), ("deadline", 0),
                      ("deadline", True)):
        with pytest.raises(ValueError, match=f"download.{name}"):
            download(f"{server}/slow", target, sha256=None, progress=False, **{name: bad})
