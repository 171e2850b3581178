"""Safe downloads and archive extraction.

- :func:`download` streams a URL (``https://``, ``http://`` or ``file://``) to a temporary file next to the target with
  a progress bar, checks its SHA-256, and only then renames it into place: an interrupted or corrupted download never
  sits at the target path. A checksum mismatch deletes the temporary file and says so.
- :func:`extract_archive` unpacks a .zip or .tar(.gz/.bz2/.xz) after checking *every* member first: an absolute path,
  a ``..`` component, a link pointing outside the destination, or a device file makes it refuse the whole archive and
  write nothing ("zip slip" / tar path traversal).
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

__all__ = ["download", "extract_archive", "sha256sum", "UnsafeArchiveError", "ChecksumError"]


class ChecksumError(ValueError):
    """A downloaded file whose SHA-256 is not the expected one."""


class UnsafeArchiveError(ValueError):
    """An archive with a member that would be written outside the destination folder."""


def sha256sum(path, chunk_size: int = 1 << 20) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha(sha256) -> str | None:
    if sha256 is None:
        return None
    if not isinstance(sha256, str) or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise ValueError(f"download(sha256): expected 64 hex digits or None, got {sha256!r}")
    return sha256.lower()


def download(url: str, path, *, sha256: str | None, progress: bool = True, timeout: float = 60.0,
             chunk_size: int = 1 << 20) -> Path:
    """Download ``url`` to ``path`` and verify its SHA-256. Returns the path.

    ``sha256`` is required: pass the expected hex digest, or ``None`` explicitly when no checksum is published (the
    computed digest is then printed so you can pin it). If ``path`` already exists with the right checksum nothing is
    downloaded. The data streams into ``<path>.part`` (with a tqdm progress bar) and is renamed to ``path`` only after
    the checksum matches; on a mismatch the ``.part`` file is deleted and :class:`ChecksumError` says so. Without a
    network connection a ``ConnectionError`` says which URL to fetch by hand and where to put it.
    """
    from tqdm.auto import tqdm

    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https", "file"):
        raise ValueError(f"download(url): expected an http://, https:// or file:// URL, got {url!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"download(path): expected a file path, got {type(path).__name__}")
    expected = _check_sha(sha256)
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"download(path): {str(path)!r} is a folder; give the file name to write")
    if path.exists() and expected is not None and sha256sum(path) == expected:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            total = response.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=path.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(chunk_size), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        part.unlink(missing_ok=True)
        raise ConnectionError(f"download: {url} answered HTTP {err.code} {err.reason}; the file may have moved. "
                              f"Check the dataset card in datasets/ for the current address.") from None
    except (urllib.error.URLError, OSError) as err:
        part.unlink(missing_ok=True)
        reason = getattr(err, "reason", err)
        raise ConnectionError(f"download: could not fetch {url} ({reason}). If this machine is offline, download it "
                              f"by hand (browser, curl -L -o or wget -O) and save it as {path}") from None
    got = digest.hexdigest()
    if expected is not None and got != expected:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"download: checksum mismatch for {url}: expected sha256 {expected}, got {got}; "
                            f"deleted the partial file {part}. The download was corrupted or the file changed upstream.")
    if expected is None:
        print(f"download: no checksum given for {url}; its sha256 is {got}")
    part.replace(path)
    return path


# --------------------------------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------------------------------

def _inside(name: str) -> str | None:
    """Normalised relative POSIX path if ``name`` stays inside the destination, else None."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):  # absolute, or a Windows drive
        return None
    if ".." in name.split("/"):
        return None
    norm = posixpath.normpath(name)
    return None if norm.startswith("..") or norm.startswith("/") else norm


def _link_inside(member_name: str, target: str) -> bool:
    """Does a link at ``member_name`` pointing to ``target`` (relative to the link's folder) stay inside?"""
    target = target.replace("\\", "/")
    if target.startswith("/"):
        return False
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(member_name), target))
    return not (joined == ".." or joined.startswith("../") or joined.startswith("/"))


def _check_tar(tf: tarfile.TarFile, archive: Path) -> None:
    for m in tf.getmembers():
        where = f"extract_archive: refusing {archive.name}: member {m.name!r}"
        if _inside(m.name) is None:
            raise UnsafeArchiveError(f"{where} has an absolute path or '..' (it would be written outside the destination)")
        if m.issym() and not _link_inside(m.name, m.linkname):
            raise UnsafeArchiveError(f"{where} is a symlink to {m.linkname!r}, outside the destination")
        if m.islnk() and (_inside(m.linkname) is None):
            raise UnsafeArchiveError(f"{where} is a hard link to {m.linkname!r}, outside the destination")
        if m.ischr() or m.isblk() or m.isfifo():
            raise UnsafeArchiveError(f"{where} is a device or FIFO, not a file")


def _check_zip(zf: zipfile.ZipFile, archive: Path) -> None:
    for info in zf.infolist():
        where = f"extract_archive: refusing {archive.name}: member {info.filename!r}"
        if _inside(info.filename) is None:
            raise UnsafeArchiveError(f"{where} has an absolute path or '..' (it would be written outside the destination)")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            target = zf.read(info).decode("utf-8", "replace")
            if not _link_inside(info.filename, target):
                raise UnsafeArchiveError(f"{where} is a symlink to {target!r}, outside the destination")


def extract_archive(archive, dest) -> Path:
    """Extract a .zip or .tar / .tar.gz / .tgz / .tar.bz2 / .tar.xz archive into folder ``dest``. Returns ``dest``.

    Every member is checked before anything is written: absolute paths, ``..`` components, symlinks or hard links
    that point outside ``dest``, and device files raise :class:`UnsafeArchiveError` and nothing is extracted.
    (Zip symlinks are written as small text files holding the link target, as Python's zipfile does.)
    """
    if not isinstance(archive, (str, os.PathLike)) or not isinstance(dest, (str, os.PathLike)):
        raise TypeError("extract_archive(archive, dest): expected two paths")
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise FileNotFoundError(f"extract_archive(archive): no such file: {str(archive)!r}")
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            _check_zip(zf, archive)
            dest.mkdir(parents=True, exist_ok=True)
            zf.extractall(dest)
        return dest
    try:
        is_tar = tarfile.is_tarfile(archive)
    except OSError:
        is_tar = False
    if not is_tar:
        hint = " (RAR archives, as UCF101 and HMDB51 ship, need `unrar x` or `7z x`)" if archive.suffix.lower() == ".rar" else ""
        raise ValueError(f"extract_archive(archive): {str(archive)!r} is neither a zip nor a tar archive{hint}")
    with tarfile.open(archive) as tf:
        _check_tar(tf, archive)
        dest.mkdir(parents=True, exist_ok=True)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12: the standard library's own safety filter too
            tf.extractall(dest, filter="data")
        else:  # pragma: no cover — members were checked above
            tf.extractall(dest)
    return dest
