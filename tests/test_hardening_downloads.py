"""Issue 9, part 2: download never keeps a short, stalled or unverifiable transfer, and says what went wrong.

A loopback HTTP server that misbehaves on purpose; no test touches the internet."""
from __future__ import annotations

import errno
import http.server
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
    /ok: the whole body.  /nolength: the whole body without Content-Length."""

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
        elif self.path != "/nolength":
            self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        if self.path == "/short":
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


def test_stalled_transfer_ends_after_the_read_timeout(server, tmp_path):
    target = tmp_path / "x.zip"
    start = time.perf_counter()
    with pytest.raises(IncompleteDownloadError, match=r"stalled: no data for 0.5 s after \d+ bytes"):
        download(f"{server}/stall", target, sha256=None, progress=False, timeout=0.5)
    assert time.perf_counter() - start < 3.5, "the read timeout must end the transfer, not the server"
    assert nothing_left(target)


def test_known_size_is_checked_even_without_content_length(server, tmp_path):
    target = tmp_path / "x.zip"
    with pytest.raises(IncompleteDownloadError, match="got 1024000 bytes .*, but the file's known size is 999 bytes"):
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
