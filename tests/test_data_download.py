"""course.data.download: checksummed downloads (file:// and a loopback HTTP server) and safe archive extraction,
including crafted malicious archives. No test touches the internet."""
from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import stat
import tarfile
import threading
import zipfile

import pytest

from course.data import ChecksumError, UnsafeArchiveError, download, extract_archive, sha256sum

PAYLOAD = bytes(range(256)) * 5000  # 1.28 MB, several chunks


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def served(tmp_path):
    """A loopback HTTP server serving tmp_path/www; yields (base URL, folder)."""
    www = tmp_path / "www"
    www.mkdir()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www
    finally:
        server.shutdown()
        server.server_close()


def test_download_over_http_verifies_and_renames(served, tmp_path):
    base, www = served
    (www / "data.bin").write_bytes(PAYLOAD)
    target = tmp_path / "out" / "data.bin"
    got = download(f"{base}/data.bin", target, sha256=sha(PAYLOAD), progress=False, chunk_size=65536)
    assert got == target and target.read_bytes() == PAYLOAD
    assert not (tmp_path / "out" / "data.bin.part").exists()


def test_download_from_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    target = download(src.as_uri(), tmp_path / "copy.bin", sha256=sha(PAYLOAD).upper(), progress=False)
    assert sha256sum(target) == sha(PAYLOAD)


def test_checksum_mismatch_deletes_the_temp_file_and_says_so(served, tmp_path):
    base, www = served
    (www / "data.bin").write_bytes(PAYLOAD)
    target = tmp_path / "data.bin"
    with pytest.raises(ChecksumError, match="deleted the partial file") as e:
        download(f"{base}/data.bin", target, sha256="0" * 64, progress=False)
    assert sha(PAYLOAD) in str(e.value) and "0" * 64 in str(e.value)
    assert not target.exists() and not (tmp_path / "data.bin.part").exists()


def test_existing_file_with_the_right_checksum_is_not_downloaded_again(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(PAYLOAD)
    # this URL would fail if it were fetched
    assert download("http://127.0.0.1:9/never", target, sha256=sha(PAYLOAD), progress=False) == target


def test_existing_file_with_a_wrong_checksum_is_replaced(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    target = tmp_path / "data.bin"
    target.write_bytes(b"stale")
    download(src.as_uri(), target, sha256=sha(PAYLOAD), progress=False)
    assert target.read_bytes() == PAYLOAD


def test_no_checksum_must_be_explicit_and_prints_the_digest(tmp_path, capsys):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc")
    with pytest.raises(TypeError):
        download(src.as_uri(), tmp_path / "x.bin")  # sha256 is a required keyword
    download(src.as_uri(), tmp_path / "x.bin", sha256=None, progress=False)
    assert sha(b"abc") in capsys.readouterr().out


def test_offline_says_what_to_do(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = tmp_path / "data.bin"
    with pytest.raises(ConnectionError, match="by hand") as e:
        download(f"http://127.0.0.1:{port}/data.bin", target, sha256=None, progress=False, timeout=5)
    assert str(target) in str(e.value)
    assert not target.exists() and not (tmp_path / "data.bin.part").exists()


def test_missing_file_on_the_server(served, tmp_path):
    base, _ = served
    with pytest.raises(ConnectionError, match="HTTP 404"):
        download(f"{base}/missing.bin", tmp_path / "m.bin", sha256=None, progress=False)


def test_download_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="url"):
        download("ftp://example.org/x", tmp_path / "x", sha256=None)
    with pytest.raises(ValueError, match="sha256"):
        download("file:///x", tmp_path / "x", sha256="abc")
    with pytest.raises(TypeError, match="path"):
        download("file:///x", 5, sha256=None)
    with pytest.raises(ValueError, match="folder"):
        download("file:///x", tmp_path, sha256=None)


# --- extraction -------------------------------------------------------------------------------------------------------

def make_zip(path, members):
    """members: list of (name, bytes) or (name, bytes, unix mode)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, *mode in members:
            info = zipfile.ZipInfo(name)
            if mode:
                info.external_attr = mode[0] << 16
            zf.writestr(info, data)
    return path


def make_tar(path, members, mode="w:gz"):
    """members: TarInfo-building tuples (name, kind, payload) with kind in file/dir/sym/hard/chr."""
    with tarfile.open(path, mode) as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                         "chr": tarfile.CHRTYPE}[kind]
            if kind in ("sym", "hard"):
                info.linkname = payload
            tf.addfile(info)
    return path


def test_extract_zip_and_tar(tmp_path):
    z = make_zip(tmp_path / "a.zip", [("data/a.txt", b"A"), ("data/sub/b.txt", b"B")])
    out = extract_archive(z, tmp_path / "zip_out")
    assert (out / "data" / "a.txt").read_bytes() == b"A" and (out / "data" / "sub" / "b.txt").read_bytes() == b"B"
    for mode, suffix in [("w:gz", ".tar.gz"), ("w", ".tar"), ("w:bz2", ".tar.bz2"), ("w:xz", ".tar.xz")]:
        t = make_tar(tmp_path / f"a{suffix}", [("d", "dir", None), ("d/x.txt", "file", b"X"),
                                               ("d/link", "sym", "x.txt"), ("d/hard", "hard", "d/x.txt")], mode)
        out = extract_archive(t, tmp_path / f"out{suffix}")
        assert (out / "d" / "x.txt").read_bytes() == b"X"
        assert (out / "d" / "link").is_symlink() and (out / "d" / "link").read_bytes() == b"X"
        assert (out / "d" / "hard").read_bytes() == b"X"


MALICIOUS_TARS = {
    "dot-dot": [("ok.txt", "file", b"fine"), ("../evil.txt", "file", b"pwned")],
    "nested dot-dot": [("ok.txt", "file", b"fine"), ("a/../../evil.txt", "file", b"pwned")],
    "absolute": [("ok.txt", "file", b"fine"), ("/tmp/evil_course_test.txt", "file", b"pwned")],
    "symlink out (absolute)": [("ok.txt", "file", b"fine"), ("passwd", "sym", "/etc/passwd")],
    "symlink out (relative)": [("ok.txt", "file", b"fine"), ("a/up", "sym", "../../..")],
    "write through symlink": [("ok.txt", "file", b"fine"), ("esc", "sym", ".."), ("esc/evil.txt", "file", b"pwned")],
    "hard link out": [("ok.txt", "file", b"fine"), ("h", "hard", "../outside.txt")],
    "device file": [("ok.txt", "file", b"fine"), ("dev", "chr", None)],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS_TARS))
def test_malicious_tar_is_refused_and_nothing_is_written(tmp_path, case):
    (tmp_path / "outside.txt").write_text("secret")
    archive = make_tar(tmp_path / "bad.tar.gz", MALICIOUS_TARS[case])
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match="refusing bad.tar.gz"):
        extract_archive(archive, dest)
    assert not dest.exists(), "nothing may be written when an archive is refused (not even ok.txt)"
    assert not (tmp_path / "evil.txt").exists() and (tmp_path / "outside.txt").read_text() == "secret"


MALICIOUS_ZIPS = {
    "dot-dot": [("ok.txt", b"fine"), ("../evil.txt", b"pwned")],
    "absolute": [("ok.txt", b"fine"), ("/tmp/evil_course_test.txt", b"pwned")],
    "windows dot-dot": [("ok.txt", b"fine"), ("..\\evil.txt", b"pwned")],
    "windows drive": [("ok.txt", b"fine"), ("C:/evil.txt", b"pwned")],
    "symlink out": [("ok.txt", b"fine"), ("link", b"../../etc/passwd", stat.S_IFLNK | 0o777)],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS_ZIPS))
def test_malicious_zip_is_refused_and_nothing_is_written(tmp_path, case):
    archive = make_zip(tmp_path / "bad.zip", MALICIOUS_ZIPS[case])
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match="refusing bad.zip"):
        extract_archive(archive, dest)
    assert not dest.exists() and not (tmp_path / "evil.txt").exists()


def test_not_an_archive(tmp_path):
    (tmp_path / "x.rar").write_bytes(b"Rar!\x1a\x07\x00" + b"\x00" * 100)
    with pytest.raises(ValueError, match="unrar"):
        extract_archive(tmp_path / "x.rar", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no such file"):
        extract_archive(tmp_path / "missing.zip", tmp_path / "out")
    with pytest.raises(TypeError, match="paths"):
        extract_archive(None, tmp_path)
