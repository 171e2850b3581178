"""Safe downloads and archive extraction.

- :func:`download` streams a URL (``https://``, ``http://`` or ``file://``) to ``<path>.part`` with a progress bar,
  checks the byte count (against the server's ``Content-Length`` and a known ``size``) and the SHA-256, and only then
  renames it into place: an interrupted, short or corrupted download never sits at the target path.
- :func:`extract_archive` unpacks a .zip or .tar(.gz/.bz2/.xz) after deciding about the *whole* archive: every
  member's real destination is resolved as extraction would resolve it (following the symlinks the archive itself
  creates, and refusing any symlink already inside the destination on the way), and one member that would land
  outside the destination — absolute path, ``..``, a path through a symlink, a link whose target leaves, a device
  file — or a zip bomb makes it refuse the archive with :class:`UnsafeArchiveError` before anything is written.
  Members are then written by this module, never by ``tarfile``/``zipfile``'s own ``extractall``, so the guarantee
  is the same on every supported Python.
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import lzma
import os
import posixpath
import shutil
import socket
import stat
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["download", "extract_archive", "sha256sum", "UnsafeArchiveError", "DamagedArchiveError", "ChecksumError",
           "IncompleteDownloadError", "DEFAULT_MAX_TOTAL_BYTES", "DEFAULT_MAX_RATIO"]

#: Largest total size :func:`extract_archive` unpacks unless told otherwise: 32 GiB (UCF101 is 6.5 GB, HMDB51 2 GB).
DEFAULT_MAX_TOTAL_BYTES = 32 * 1024 ** 3
#: Largest uncompressed/compressed ratio of a zip member (over 1 MiB): videos compress ~1:1, text ~5:1, bombs ~1000:1.
DEFAULT_MAX_RATIO = 200


class ChecksumError(ValueError):
    """A downloaded file whose SHA-256 is not the expected one."""


class IncompleteDownloadError(ConnectionError):
    """A transfer that ended early, stalled, or whose size is not the one announced or recorded."""


class UnsafeArchiveError(ValueError):
    """An archive with a member that would be written outside the destination folder (or a zip bomb)."""


class DamagedArchiveError(ValueError):
    """An archive that is truncated or corrupt (e.g. a download that stopped half-way)."""


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


def _content_length(response, url: str) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit():  # also refuses "-5", "1e6", "12, 13" (a doubled header)
        raise IncompleteDownloadError(f"download: {url} sent a bogus Content-Length header {value!r}; refusing a "
                                      f"transfer whose size cannot be checked. Try again later or fetch it by hand.")
    return int(text)


def _disk_full(path: Path, err: OSError) -> OSError:
    return OSError(errno.ENOSPC, f"download: the disk is full while writing {path} ({err.strerror}); free some space "
                                 f"(or set COURSE_DATA to a folder on a bigger disk) and run this again")


def download(url: str, path, *, sha256: str | None, size: int | None = None, progress: bool = True,
             timeout: float = 60.0, chunk_size: int = 1 << 20) -> Path:
    """Download ``url`` to ``path``, check its size and SHA-256, and return the path.

    ``sha256`` is required: pass the expected hex digest, or ``None`` explicitly when no checksum is published (the
    computed digest is then printed so you can pin it). ``size`` (bytes) is the file's known size when one is
    published. If ``path`` already exists with the right checksum nothing is downloaded. The data streams into
    ``<path>.part`` (with a tqdm progress bar) and is renamed to ``path`` only when

    - the byte count equals the server's ``Content-Length`` (when it sends one) and ``size`` (when given), and
    - the checksum matches;

    otherwise the ``.part`` file is deleted and :class:`IncompleteDownloadError` (a ``ConnectionError``) or
    :class:`ChecksumError` says why. ``timeout`` (seconds) bounds the connection and every read, so a stalled
    transfer ends with :class:`IncompleteDownloadError`. A full disk raises ``OSError(ENOSPC)`` saying so. Without a
    network connection a ``ConnectionError`` says which URL to fetch by hand and where to put it.
    """
    from tqdm.auto import tqdm

    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https", "file"):
        raise ValueError(f"download(url): expected an http://, https:// or file:// URL, got {url!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"download(path): expected a file path, got {type(path).__name__}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise ValueError(f"download(size): expected a number of bytes (int >= 0) or None, got {size!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise ValueError(f"download(timeout): expected a positive number of seconds, got {timeout!r}")
    expected = _check_sha(sha256)
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"download(path): {str(path)!r} is a folder; give the file name to write")
    if path.exists() and expected is not None and sha256sum(path) == expected:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    digest = hashlib.sha256()
    received = 0
    announced = None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            announced = _content_length(response, url)
            if announced is not None and size is not None and announced != size:
                raise IncompleteDownloadError(f"download: {url} announces {announced} bytes but this file is known to "
                                              f"be {size} bytes; the server is sending something else")
            with open(part, "wb") as out, tqdm(total=announced, unit="B", unit_scale=True, unit_divisor=1024,
                                               desc=path.name, disable=not progress) as bar:
                while True:
                    try:
                        chunk = response.read(chunk_size)
                    except (socket.timeout, TimeoutError):
                        raise IncompleteDownloadError(
                            f"download: {url} stalled: no data for {timeout:g} s after {received} bytes; deleted the "
                            f"partial file. Run this again (or download it by hand and save it as {path})") from None
                    if not chunk:
                        break
                    try:
                        out.write(chunk)
                    except OSError as err:
                        if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                            raise _disk_full(path, err) from None
                        raise
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        part.unlink(missing_ok=True)
        raise ConnectionError(f"download: {url} answered HTTP {err.code} {err.reason}; the file may have moved. "
                              f"Check the dataset card in datasets/ for the current address.") from None
    except (IncompleteDownloadError, ChecksumError):
        part.unlink(missing_ok=True)
        raise
    except http.client.HTTPException as err:  # e.g. IncompleteRead in a chunked transfer
        part.unlink(missing_ok=True)
        raise IncompleteDownloadError(f"download: the transfer of {url} broke off after {received} bytes "
                                      f"({type(err).__name__}); deleted the partial file. Run this again.") from None
    except OSError as err:
        part.unlink(missing_ok=True)
        if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise (err if "disk is full" in str(err) else _disk_full(path, err)) from None
        if isinstance(err, urllib.error.URLError) or isinstance(err, (ConnectionError, TimeoutError, socket.timeout)):
            reason = getattr(err, "reason", err)
            raise ConnectionError(f"download: could not fetch {url} ({reason}). If this machine is offline, download "
                                  f"it by hand (browser, curl -L -o or wget -O) and save it as {path}") from None
        raise OSError(err.errno, f"download: could not write {part} ({err.strerror or err})") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    for what, want in (("the server announced (Content-Length)", announced), ("the file's known size is", size)):
        if want is not None and received != want:
            part.unlink(missing_ok=True)
            raise IncompleteDownloadError(
                f"download: got {received} bytes from {url}, but {what} {want} bytes: the transfer was cut short or "
                f"changed; deleted the partial file. Run this again (or download it by hand and save it as {path})")
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
# Extraction: plan (decide about every member, write nothing), then write
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class _Member:
    name: str                # normalised relative POSIX path
    kind: str                # "dir", "file", "symlink" or "hardlink"
    size: int = 0
    target: str = ""         # symlink target as stored, or the normalised member a hard link copies
    executable: bool = False
    source: object = None    # the TarInfo / ZipInfo to read the data from

    @property
    def shown(self) -> str:
        """The member's name as stored in the archive, for messages."""
        return getattr(self.source, "name", None) if isinstance(self.source, tarfile.TarInfo) else (
            getattr(self.source, "filename", self.name))


def _inside(name: str) -> str | None:
    """Normalised relative POSIX path if ``name`` stays inside the destination, else None."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):  # absolute, or a Windows drive
        return None
    if ".." in name.split("/"):
        return None
    norm = posixpath.normpath(name)
    return None if norm.startswith("..") or norm.startswith("/") else norm


def _key(name: str) -> str:
    return name.casefold()  # macOS and Windows folders are case-insensitive: "A" and "a" are the same path there


def _resolve(start: list[str], target: str, links: dict[str, str], root: Path, depth: int = 0) -> list[str] | None:
    """Where a symlink in folder ``start`` (path parts) pointing to ``target`` lands, following the archive's own
    symlinks (``links``: casefolded member name -> target) as the OS would. Returns path parts under the root, or None if the
    path leaves the root (or passes through a symlink that was already on disk)."""
    target = target.replace("\\", "/")
    if depth > 40 or target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        return None
    parts = list(start)
    for comp in target.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(comp)
        joined = "/".join(parts)
        link = links.get(_key(joined))
        if link is not None:
            resolved = _resolve(parts[:-1], link, links, root, depth + 1)
            if resolved is None:
                return None
            parts = resolved
        elif os.path.islink(root.joinpath(*parts)):
            return None
    return parts


def _check_plan(members: list[_Member], archive: Path, dest: Path) -> None:
    """Refuse the archive (UnsafeArchiveError naming a member) if any member would be written outside ``dest``."""
    root = dest.resolve() if dest.exists() else dest.absolute()
    kinds: dict[str, str] = {}
    for m in members:
        where = f"extract_archive: refusing {archive.name}: member {m.shown!r}"
        previous = kinds.setdefault(_key(m.name), m.kind)
        if previous != m.kind and {previous, m.kind} != {"file", "hardlink"}:
            raise UnsafeArchiveError(f"{where} appears twice, as a {previous} and as a {m.kind}")
        if m.name == "." and m.kind != "dir":
            raise UnsafeArchiveError(f"{where} has an empty name")
    links = {_key(m.name): m.target for m in members if m.kind == "symlink"}
    files: set[str] = set()  # regular files written so far: a tar hard link may only copy an earlier one
    for m in members:
        where = f"extract_archive: refusing {archive.name}: member {m.shown!r}"
        parts = m.name.split("/") if m.name != "." else []
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if i < len(parts) and _key(prefix) in links:
                raise UnsafeArchiveError(f"{where} would be written through the symlink {prefix!r} the archive creates")
            on_disk = root.joinpath(*parts[:i])
            if os.path.islink(on_disk) and (i < len(parts) or m.kind == "dir"):
                raise UnsafeArchiveError(f"{where} would be written through {str(on_disk)!r}, a symlink already in "
                                         f"the destination; remove it or extract somewhere else")
        if m.kind == "symlink" and _resolve(parts[:-1], m.target, links, root) is None:
            raise UnsafeArchiveError(f"{where} is a symlink to {m.target!r}, which leads outside the destination")
        if m.kind == "hardlink" and (_key(m.target) not in files or _key(m.target) in links):
            raise UnsafeArchiveError(f"{where} is a hard link to {m.target!r}, which is not an earlier file of this "
                                     f"archive")
        if m.kind in ("file", "hardlink"):
            files.add(_key(m.name))


def _tar_plan(tf: tarfile.TarFile, archive: Path) -> list[_Member]:
    plan = []
    for info in tf.getmembers():
        where = f"extract_archive: refusing {archive.name}: member {info.name!r}"
        name = _inside(info.name)
        if name is None:
            raise UnsafeArchiveError(f"{where} has an absolute path or '..' (it would be written outside the destination)")
        if info.isdir():
            plan.append(_Member(name, "dir", source=info))
        elif info.isreg():
            plan.append(_Member(name, "file", info.size, executable=bool(info.mode & 0o100), source=info))
        elif info.issym():
            plan.append(_Member(name, "symlink", target=info.linkname, source=info))
        elif info.islnk():
            target = _inside(info.linkname)
            if target is None:
                raise UnsafeArchiveError(f"{where} is a hard link to {info.linkname!r}, outside the destination")
            plan.append(_Member(name, "hardlink", info.size, target=target, source=info))
        else:
            raise UnsafeArchiveError(f"{where} is a device, FIFO or other special file, not a file")
    return plan


def _zip_plan(zf: zipfile.ZipFile, archive: Path, max_ratio: float) -> list[_Member]:
    plan = []
    for info in zf.infolist():
        where = f"extract_archive: refusing {archive.name}: member {info.filename!r}"
        name = _inside(info.filename)
        if name is None:
            raise UnsafeArchiveError(f"{where} has an absolute path or '..' (it would be written outside the destination)")
        mode = info.external_attr >> 16
        if (info.file_size > (1 << 20) and info.compress_type != zipfile.ZIP_STORED
                and info.file_size > max_ratio * max(info.compress_size, 1)):
            raise UnsafeArchiveError(f"{where} expands {info.file_size / max(info.compress_size, 1):.0f}-fold "
                                     f"({info.compress_size} -> {info.file_size} bytes), more than max_ratio="
                                     f"{max_ratio:g}: a zip bomb")
        if info.is_dir():
            plan.append(_Member(name, "dir", source=info))
        elif stat.S_ISLNK(mode):  # written as a small file holding the target (as zipfile does), but checked as a link
            target = zf.read(info).decode("utf-8", "replace")
            plan.append(_Member(name, "symlink", info.file_size, target=target, source=info))
        else:
            plan.append(_Member(name, "file", info.file_size, executable=bool(mode & 0o100), source=info))
    return plan


def _check_total(plan: list[_Member], archive: Path, max_total_bytes: int) -> None:
    total = sum(m.size for m in plan if m.kind in ("file", "hardlink"))
    if total > max_total_bytes:
        raise UnsafeArchiveError(f"extract_archive: refusing {archive.name}: it would unpack {total} bytes, more than "
                                 f"max_total_bytes={max_total_bytes} (pass a larger max_total_bytes if you expect it)")


def _write_stream(src, target: Path, limit: int, executable: bool) -> None:
    if os.path.lexists(target) and (target.is_symlink() or not target.is_dir()):
        target.unlink()  # replace a file (or a link) instead of writing through it
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(target, flags, 0o755 if executable else 0o644)
    try:
        _copy_stream(src, fd, target, limit)
    except BaseException:
        target.unlink(missing_ok=True)  # never leave a half-written member behind
        raise


def _copy_stream(src, fd: int, target: Path, limit: int) -> None:
    written = 0
    with os.fdopen(fd, "wb") as out:
        while True:
            try:
                chunk = src.read(1 << 20)
            except _DAMAGE as err:  # the archive's data, not the disk: a bad CRC, a truncated stream...
                raise DamagedArchiveError(f"member {target.name!r}: {type(err).__name__}: {err}") from None
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                raise DamagedArchiveError(f"member {target.name!r} holds more data than its header declares")
            out.write(chunk)


def _write(plan: list[_Member], dest: Path, open_member) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written: dict[str, Path] = {}
    for m in plan:
        target = root.joinpath(*m.name.split("/")) if m.name != "." else root
        if m.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if m.kind == "file":
            with open_member(m) as src:
                _write_stream(src, target, m.size, m.executable)
            written[_key(m.name)] = target
        elif m.kind == "hardlink":
            if os.path.lexists(target):
                target.unlink()
            shutil.copyfile(written[_key(m.target)], target, follow_symlinks=False)
            written[_key(m.name)] = target
        elif isinstance(m.source, zipfile.ZipInfo):  # zip "symlink": a text file with the target, as zipfile writes
            with open_member(m) as src:
                _write_stream(src, target, m.size, False)
        else:
            if os.path.lexists(target):
                target.unlink()
            try:
                os.symlink(m.target, target)
            except (OSError, NotImplementedError):  # e.g. Windows without the symlink privilege: copy the file
                resolved = root.joinpath(*_resolve(m.name.split("/")[:-1], m.target, {}, root) or [])
                if resolved.is_file():
                    shutil.copyfile(resolved, target)


_DAMAGE = (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile,
           OSError)


def _magic(archive: Path) -> str:
    with open(archive, "rb") as f:
        head = f.read(262 + 8)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or head[257:262] == b"ustar":
        return "tar"
    if head[:4] == b"Rar!":
        return "rar"
    return ""


def extract_archive(archive, dest, *, max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
                    max_ratio: float = DEFAULT_MAX_RATIO) -> Path:
    """Extract a .zip or .tar / .tar.gz / .tgz / .tar.bz2 / .tar.xz archive into folder ``dest``. Returns ``dest``.

    The whole archive is checked before anything is written; :class:`UnsafeArchiveError` names the first member
    that is refused, and nothing is extracted, when

    - a member's path is absolute, has ``..``, or passes through a symlink (one the archive creates, or one already
      inside ``dest``);
    - a symlink's target, resolved against the archive's other symlinks, leaves ``dest``; a hard link points to
      anything but a regular file of the archive; a member is a device or FIFO;
    - the members add up to more than ``max_total_bytes`` (default 32 GiB), or a zip member over 1 MiB expands more
      than ``max_ratio``-fold (a zip bomb).

    A truncated or corrupt archive raises :class:`DamagedArchiveError` naming the file. Zip symlinks are written as
    small text files holding the link target (as Python's zipfile does); tar symlinks become symlinks and tar hard
    links become copies.
    """
    if not isinstance(archive, (str, os.PathLike)) or not isinstance(dest, (str, os.PathLike)):
        raise TypeError("extract_archive(archive, dest): expected two paths")
    if isinstance(max_total_bytes, bool) or not isinstance(max_total_bytes, int) or max_total_bytes <= 0:
        raise ValueError(f"extract_archive(max_total_bytes): expected a positive int, got {max_total_bytes!r}")
    if isinstance(max_ratio, bool) or not isinstance(max_ratio, (int, float)) or not max_ratio >= 1:
        raise ValueError(f"extract_archive(max_ratio): expected a number >= 1, got {max_ratio!r}")
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise FileNotFoundError(f"extract_archive(archive): no such file: {str(archive)!r}")
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"extract_archive(dest): {str(dest)!r} exists and is not a folder")
    kind = _magic(archive)
    if kind != "zip" and zipfile.is_zipfile(archive):
        kind = "zip"
    if kind == "":
        try:
            kind = "tar" if tarfile.is_tarfile(archive) else ""
        except _DAMAGE:
            kind = "tar"
    if kind not in ("zip", "tar"):
        hint = (" (RAR archives, as UCF101 and HMDB51 ship, need `unrar x` or `7z x`)"
                if kind == "rar" or archive.suffix.lower() == ".rar" else "")
        raise ValueError(f"extract_archive(archive): {str(archive)!r} is neither a zip nor a tar archive{hint}")
    opener = zipfile.ZipFile if kind == "zip" else tarfile.open
    stage = "reading"
    try:
        with opener(archive) as af:
            if kind == "zip":
                plan = _zip_plan(af, archive, max_ratio)
            else:
                plan = _tar_plan(af, archive)
                while af.fileobj.read(1 << 20):  # to the end: a compressed stream checks its length and CRC there
                    pass
            _check_total(plan, archive, max_total_bytes)
            _check_plan(plan, archive, dest)
            stage = "writing"
            _write(plan, dest, (lambda m: af.open(m.source)) if kind == "zip" else (lambda m: af.extractfile(m.source)))
    except UnsafeArchiveError:
        raise
    except DamagedArchiveError as err:
        raise DamagedArchiveError(_damaged(archive, str(err))) from None
    except _DAMAGE as err:
        if isinstance(err, PermissionError) or (
                stage == "writing" and isinstance(err, OSError) and not isinstance(err, zipfile.BadZipFile)):
            raise  # the disk, not the archive: full, read-only, permissions...
        raise DamagedArchiveError(_damaged(archive, f"{type(err).__name__}: {err}")) from None
    return dest


def _damaged(archive: Path, detail: str) -> str:
    return (f"extract_archive: {str(archive)!r} is a truncated or damaged archive ({detail}); delete it and download "
            f"it again")
