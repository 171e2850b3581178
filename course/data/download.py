"""Safe downloads and archive extraction.

- :func:`download` streams a URL (``https://``, ``http://`` or ``file://``) to ``<path>.part`` with a progress bar,
  checks the byte count (against the server's ``Content-Length`` and a known ``size``) and the SHA-256, and only then
  renames it into place: an interrupted, short or corrupted download never sits at the target path. It stops as soon
  as more bytes arrive than expected, when the transfer stalls (almost no bytes for a minute), and, if asked, at a
  deadline.
- :func:`extract_archive` unpacks a .zip or .tar(.gz/.bz2/.xz) after deciding about the *whole* archive: every
  member's real destination is resolved as extraction would resolve it (following the symlinks the archive itself
  creates, and refusing any symlink already inside the destination on the way), and one member that would land
  outside the destination — absolute path, ``..``, a path through a symlink, a link whose target leaves, a device
  file — or a decompression bomb makes it refuse the archive with :class:`UnsafeArchiveError` before anything is
  written. Names are compared as the destination's file system compares them (case-sensitively on Linux; both ways
  where it cannot be told). Members are then written by this module, never by ``tarfile``/``zipfile``'s own
  ``extractall``, so the guarantee is the same on every supported Python; they are written into a temporary folder
  next to (or inside) the destination and moved into place only when every member was written, so a failure
  half-way (a bad CRC, an encrypted member, a full disk) leaves nothing behind.
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import lzma
import os
import math
import posixpath
import secrets
import shutil
import socket
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["download", "extract_archive", "sha256sum", "UnsafeArchiveError", "DamagedArchiveError",
           "UnsupportedArchiveError", "ChecksumError", "IncompleteDownloadError", "DEFAULT_MAX_TOTAL_BYTES",
           "DEFAULT_MAX_RATIO", "is_disk_full", "disk_full_error"]

#: Largest total size :func:`extract_archive` unpacks unless told otherwise: 32 GiB (UCF101 is 6.5 GB, HMDB51 2 GB).
DEFAULT_MAX_TOTAL_BYTES = 32 * 1024 ** 3
#: Largest uncompressed/compressed ratio of a zip member (over 1 MiB) and of a whole archive (unpacking over 1 MiB):
#: videos compress ~1:1, text ~5:1, bombs ~1000:1.
DEFAULT_MAX_RATIO = 200
_RATIO_FLOOR = 1 << 20


class ChecksumError(ValueError):
    """A downloaded file whose SHA-256 is not the expected one."""


class IncompleteDownloadError(ConnectionError):
    """A transfer that ended early, stalled, or whose size is not the one announced or recorded."""


class UnsafeArchiveError(ValueError):
    """An archive with a member that would be written outside the destination folder (or a zip bomb)."""


class DamagedArchiveError(ValueError):
    """An archive that is truncated or corrupt (e.g. a download that stopped half-way)."""


class UnsupportedArchiveError(ValueError):
    """An archive this module cannot unpack as it is: an encrypted or deflate64 member, a name too long for the file
    system, a file where another member needs a folder."""


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


_TORCH_WRITE_FAILED = ("enforce fail at inline_container", "file write failed", "PytorchStreamWriter failed writing")


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` is a write that failed for lack of space: ``OSError`` ENOSPC/EDQUOT, or the ``RuntimeError`` that
    ``torch.save`` raises when its zip writer cannot write (``[enforce fail at inline_container.cc...]``)."""
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    return isinstance(err, RuntimeError) and any(text in str(err) for text in _TORCH_WRITE_FAILED)


def disk_full_error(who: str, path, err: BaseException,
                    advice: str = "free some space (old checkpoints, the data cache) or write to a bigger disk "
                                  "(COURSE_DATA moves the data cache), then run this again") -> OSError:
    """``OSError(ENOSPC)`` for a write of ``path`` that failed for lack of space: says so, how much space is free, and
    what to do (``advice``)."""
    folder = Path(os.path.abspath(path)).parent
    while not folder.is_dir() and folder.parent != folder:
        folder = folder.parent
    try:
        free = f"{shutil.disk_usage(folder).free / 2 ** 20:.0f} MB free in {folder}"
    except OSError:
        free = "free space unknown"
    detail = err.strerror if isinstance(err, OSError) and err.strerror else (str(err).splitlines() or [""])[0][:150]
    return OSError(errno.ENOSPC, f"{who}: the disk is full: writing {path} failed ({detail}; {free}); {advice}")


def _positive(fn: str, name: str, value, *, optional: bool = False, zero: bool = False):
    if optional and value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value < 0 or (value == 0 and not zero)):
        what = "a non-negative" if zero else "a positive"
        raise ValueError(f"{fn}({name}): expected {what} number{' or None' if optional else ''}, got {value!r}")
    return float(value)


def download(url: str, path, *, sha256: str | None, size: int | None = None, progress: bool = True,
             timeout: float = 60.0, chunk_size: int = 1 << 20, stall_window: float = 60.0,
             min_rate: float = 1024.0, deadline: float | None = None) -> Path:
    """Download ``url`` to ``path``, check its size and SHA-256, and return the path.

    ``sha256`` is required: pass the expected hex digest, or ``None`` explicitly when no checksum is published (the
    computed digest is then printed so you can pin it). ``size`` (bytes) is the file's known size when one is
    published. If ``path`` already exists with the right checksum nothing is downloaded. The data streams into
    ``<path>.part`` (with a tqdm progress bar) and is renamed to ``path`` only when

    - the byte count equals the server's ``Content-Length`` (when it sends one) and ``size`` (when given), and
    - the checksum matches;

    otherwise the ``.part`` file is deleted and :class:`IncompleteDownloadError` (a ``ConnectionError``) or
    :class:`ChecksumError` says why. The transfer is stopped with :class:`IncompleteDownloadError`

    - as soon as more bytes arrive than ``size`` or ``Content-Length`` promise (an endless body, ``file:///dev/zero``);
    - when no data comes for ``timeout`` seconds (which also bounds the connection);
    - when it stalls: fewer than ``min_rate * stall_window`` bytes arrive in ``stall_window`` seconds (default: less
      than 1 kB/s over a minute, e.g. a server that drips one byte at a time);
    - after ``deadline`` seconds in all, when given (default ``None``: no overall limit).

    A full disk raises ``OSError(ENOSPC)`` saying so. Without a network connection a ``ConnectionError`` says which
    URL to fetch by hand and where to put it.
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
    stall_window = _positive("download", "stall_window", stall_window)
    min_rate = _positive("download", "min_rate", min_rate, zero=True)
    deadline = _positive("download", "deadline", deadline, optional=True)
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
    retry = f"deleted the partial file. Run this again (or download it by hand and save it as {path})"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            announced = _content_length(response, url)
            if announced is not None and size is not None and announced != size:
                raise IncompleteDownloadError(f"download: {url} announces {announced} bytes but this file is known to "
                                              f"be {size} bytes; the server is sending something else")
            limit, promised = ((size, "the file is known to be") if size is not None else
                               (announced, "the server announced (Content-Length)"))
            read = getattr(response, "read1", None) or response.read  # read1: what has arrived; never waits for more
            start = window_start = time.monotonic()
            window_received = 0
            with open(part, "wb") as out, tqdm(total=announced, unit="B", unit_scale=True, unit_divisor=1024,
                                               desc=path.name, disable=not progress) as bar:
                while True:
                    try:
                        chunk = read(chunk_size)
                    except (socket.timeout, TimeoutError):
                        raise IncompleteDownloadError(
                            f"download: {url} stalled: no data for {timeout:g} s after {received} bytes; "
                            f"{retry}") from None
                    if not chunk:
                        break
                    if limit is not None and received + len(chunk) > limit:
                        raise IncompleteDownloadError(
                            f"download: {url} sent more than the {limit} bytes {promised}; stopped the transfer and "
                            f"{retry}")
                    try:
                        out.write(chunk)
                    except OSError as err:
                        if is_disk_full(err):
                            raise disk_full_error("download", path, err) from None
                        raise
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    now = time.monotonic()
                    if deadline is not None and now - start > deadline:
                        raise IncompleteDownloadError(
                            f"download: {url} took longer than deadline={deadline:g} s ({received} bytes so far); "
                            f"{retry}")
                    if now - window_start >= stall_window:
                        if received - window_received < min_rate * stall_window:
                            raise IncompleteDownloadError(
                                f"download: {url} stalled: only {received - window_received} bytes in the last "
                                f"{stall_window:g} s (less than min_rate={min_rate:g} bytes/s), {received} bytes in "
                                f"all; {retry}")
                        window_start, window_received = now, received
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
        if is_disk_full(err):
            raise (err if "disk is full" in str(err) else disk_full_error("download", path, err)) from None
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
                f"changed; {retry}")
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


def _exact(name: str) -> str:
    return name


def _casefold(name: str) -> str:
    return name.casefold()  # macOS and Windows folders are case-insensitive: "A" and "a" are the same path there


def _case_sensitive(folder: Path) -> bool | None:
    """Whether the file system of ``folder`` (or of its nearest existing parent) tells "a" from "A": True on Linux's
    usual file systems, False on macOS's and Windows' defaults, None when it cannot be probed (no write permission).
    The probe is an empty temporary file, removed at once."""
    where = Path(os.path.abspath(folder))
    while not where.is_dir():
        if where.parent == where:
            return None
        where = where.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".case-Probe-", dir=where)
    except OSError:
        return None
    os.close(fd)
    try:
        head, tail = os.path.split(probe)
        return not os.path.lexists(os.path.join(head, tail.swapcase()))
    finally:
        os.unlink(probe)


def _resolve(start: list[str], target: str, links: dict[str, str], root: Path, key=_exact,
             depth: int = 0) -> list[str] | None:
    """Where a symlink in folder ``start`` (path parts) pointing to ``target`` lands, following the archive's own
    symlinks (``links``: key(member name) -> target) as the OS would, names compared with ``key`` (exact, or casefolded
    for a case-insensitive file system). Returns path parts under the root, or None if the path leaves the root (or
    passes through a symlink that was already on disk)."""
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
        link = links.get(key("/".join(parts)))
        if link is not None:
            resolved = _resolve(parts[:-1], link, links, root, key, depth + 1)
            if resolved is None:
                return None
            parts = resolved
        elif os.path.islink(root.joinpath(*parts)):
            return None
    return parts


def _check_plan(members: list[_Member], archive: Path, dest: Path, key=_exact) -> None:
    """Refuse the archive (UnsafeArchiveError naming a member) if any member would be written outside ``dest``, names
    compared with ``key``: :func:`_exact` where the file system is case-sensitive, :func:`_casefold` where it is not."""
    root = dest.resolve() if dest.exists() else dest.absolute()
    kinds: dict[str, str] = {}
    for m in members:
        where = f"extract_archive: refusing {archive.name}: member {m.shown!r}"
        previous = kinds.setdefault(key(m.name), m.kind)
        if previous != m.kind and {previous, m.kind} != {"file", "hardlink"}:
            raise UnsafeArchiveError(f"{where} appears twice, as a {previous} and as a {m.kind}")
        if m.name == "." and m.kind != "dir":
            raise UnsafeArchiveError(f"{where} has an empty name")
    links = {key(m.name): m.target for m in members if m.kind == "symlink"}
    files: set[str] = set()  # regular files written so far: a tar hard link may only copy an earlier one
    for m in members:
        where = f"extract_archive: refusing {archive.name}: member {m.shown!r}"
        parts = m.name.split("/") if m.name != "." else []
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if i < len(parts) and key(prefix) in links:
                raise UnsafeArchiveError(f"{where} would be written through the symlink {prefix!r} the archive creates")
            if i < len(parts) and kinds.get(key(prefix)) in ("file", "hardlink"):
                raise UnsupportedArchiveError(f"extract_archive: cannot extract {archive.name}: member {m.shown!r} "
                                              f"needs {prefix!r} to be a folder, but the archive also holds a file "
                                              f"{prefix!r}; unpack it by hand and choose which one to keep")
            on_disk = root.joinpath(*parts[:i])
            if os.path.islink(on_disk) and (i < len(parts) or m.kind == "dir"):
                raise UnsafeArchiveError(f"{where} would be written through {str(on_disk)!r}, a symlink already in "
                                         f"the destination; remove it or extract somewhere else")
        if m.kind == "symlink" and _resolve(parts[:-1], m.target, links, root, key) is None:
            raise UnsafeArchiveError(f"{where} is a symlink to {m.target!r}, which leads outside the destination")
        if m.kind == "hardlink" and (key(m.target) not in files or key(m.target) in links):
            raise UnsafeArchiveError(f"{where} is a hard link to {m.target!r}, which is not an earlier file of this "
                                     f"archive")
        if m.kind in ("file", "hardlink"):
            files.add(key(m.name))


def _check_layout(members: list[_Member], archive: Path, dest: Path) -> None:
    """Refuse (UnsupportedArchiveError) what the file system could not hold: a name longer than its limit, a file where
    ``dest`` already has a folder, a folder where it has a file."""
    root = dest.resolve() if dest.exists() else dest.absolute()
    probe = root
    while not probe.is_dir() and probe.parent != probe:
        probe = probe.parent
    try:
        name_max = os.pathconf(probe, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    for m in members:
        where = f"extract_archive: cannot extract {archive.name}: member {m.shown!r}"
        parts = m.name.split("/") if m.name != "." else []
        for comp in parts:
            if len(os.fsencode(comp)) > name_max:
                raise UnsupportedArchiveError(f"{where} has a name of {len(os.fsencode(comp))} bytes; this file system "
                                              f"allows {name_max}. Unpack it by hand on another file system.")
        for i in range(1, len(parts) + 1):
            on_disk = root.joinpath(*parts[:i])
            needs_folder = i < len(parts) or m.kind == "dir"
            if not os.path.lexists(on_disk) or os.path.islink(on_disk):
                continue
            if needs_folder and not on_disk.is_dir():
                raise UnsupportedArchiveError(f"{where} needs {str(on_disk)!r} to be a folder, but it is a file; move "
                                              f"it away or extract somewhere else")
            if not needs_folder and on_disk.is_dir():
                raise UnsupportedArchiveError(f"{where} would replace the folder {str(on_disk)!r}; move it away or "
                                              f"extract somewhere else")


class _Budget:
    """Running totals while members are listed: refuses (UnsafeArchiveError) an archive that would unpack more than
    ``max_total_bytes``, or more than 1 MiB at more than ``max_ratio`` times the archive's own size (a bomb)."""

    def __init__(self, archive: Path, max_total_bytes: int, max_ratio: float):
        self.archive, self.max_total_bytes, self.max_ratio = archive, max_total_bytes, max_ratio
        self.packed = max(archive.stat().st_size, 1)
        self.total = 0

    def add(self, m: _Member) -> None:
        self.total += m.size  # what will be written: a hard link is a copy; a zip "symlink" a file with its target
        refusing = f"extract_archive: refusing {self.archive.name}:"
        if self.total > self.max_total_bytes:
            raise UnsafeArchiveError(f"{refusing} it would unpack {self.total} bytes, more than max_total_bytes="
                                     f"{self.max_total_bytes} (pass a larger max_total_bytes if you expect it)")
        if self.total > _RATIO_FLOOR and self.total > self.max_ratio * self.packed:
            raise UnsafeArchiveError(f"{refusing} its members up to {m.shown!r} unpack to {self.total} bytes from a "
                                     f"{self.packed}-byte archive, a {self.total / self.packed:.0f}-fold expansion, "
                                     f"more than max_ratio={self.max_ratio:g}: a decompression bomb (pass a larger "
                                     f"max_ratio if you expect it)")


def _tar_plan(tf: tarfile.TarFile, archive: Path, budget: _Budget) -> list[_Member]:
    plan, sizes = [], {}
    for info in tf:  # lazily: a bomb is refused at its header, before its data is decompressed
        where = f"extract_archive: refusing {archive.name}: member {info.name!r}"
        name = _inside(info.name)
        if name is None:
            raise UnsafeArchiveError(f"{where} has an absolute path or '..' (it would be written outside the destination)")
        if info.isdir():
            member = _Member(name, "dir", source=info)
        elif info.isreg():
            member = _Member(name, "file", info.size, executable=bool(info.mode & 0o100), source=info)
            sizes[name] = info.size
        elif info.issym():
            member = _Member(name, "symlink", target=info.linkname, source=info)
        elif info.islnk():
            target = _inside(info.linkname)
            if target is None:
                raise UnsafeArchiveError(f"{where} is a hard link to {info.linkname!r}, outside the destination")
            member = _Member(name, "hardlink", sizes.get(target, 0), target=target, source=info)  # a copy: full size
            sizes[name] = member.size
        else:
            raise UnsafeArchiveError(f"{where} is a device, FIFO or other special file, not a file")
        budget.add(member)
        plan.append(member)
    return plan


_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def _zip_plan(zf: zipfile.ZipFile, archive: Path, max_ratio: float, budget: _Budget) -> list[_Member]:
    plan = []
    for info in zf.infolist():
        where = f"extract_archive: refusing {archive.name}: member {info.filename!r}"
        name = _inside(info.filename)
        if name is None:
            raise UnsafeArchiveError(f"{where} has an absolute path or '..' (it would be written outside the destination)")
        cannot = f"extract_archive: cannot extract {archive.name}: member {info.filename!r}"
        if info.flag_bits & 0x41:  # bit 0: encrypted, bit 6: strong encryption
            raise UnsupportedArchiveError(f"{cannot} is encrypted; unpack it by hand with `unzip` or `7z x` and the "
                                          f"password")
        if info.compress_type not in _ZIP_METHODS or info.flag_bits & 0x20:  # bit 5: compressed patched data
            method = zipfile.compressor_names.get(info.compress_type, f"method {info.compress_type}")
            raise UnsupportedArchiveError(f"{cannot} is compressed with {method}, which Python's zipfile cannot read; "
                                          f"unpack it by hand with `7z x` (or `unzip`)")
        mode = info.external_attr >> 16
        if (info.file_size > (1 << 20) and info.compress_type != zipfile.ZIP_STORED
                and info.file_size > max_ratio * max(info.compress_size, 1)):
            raise UnsafeArchiveError(f"{where} expands {info.file_size / max(info.compress_size, 1):.0f}-fold "
                                     f"({info.compress_size} -> {info.file_size} bytes), more than max_ratio="
                                     f"{max_ratio:g}: a zip bomb")
        if info.is_dir():
            member = _Member(name, "dir", source=info)
        elif stat.S_ISLNK(mode):  # written as a small file holding the target (as zipfile does), but checked as a link
            if info.file_size > 4096:
                raise UnsafeArchiveError(f"{where} is a symlink whose target is {info.file_size} bytes long")
            target = zf.read(info).decode("utf-8", "replace")
            member = _Member(name, "symlink", info.file_size, target=target, source=info)
        else:
            member = _Member(name, "file", info.file_size, executable=bool(mode & 0o100), source=info)
        budget.add(member)
        plan.append(member)
    return plan


class _ReadFailure(Exception):
    """Reading a member from the archive failed (as opposed to writing it to disk); wraps the original error."""


def _write_stream(src, target: Path, limit: int, executable: bool) -> None:
    if os.path.lexists(target) and (target.is_symlink() or not target.is_dir()):
        target.unlink()  # replace a file (or a link) instead of writing through it
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(target, flags, 0o755 if executable else 0o644)
    _copy_stream(src, fd, target, limit)


def _copy_stream(src, fd: int, target: Path, limit: int) -> None:
    written = 0
    with os.fdopen(fd, "wb") as out:
        while True:
            try:
                chunk = src.read(1 << 20)
            except Exception as err:  # noqa: BLE001 — the archive's data, not the disk: a bad CRC, a truncated stream
                raise _ReadFailure(err) from err
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                raise _ReadFailure(DamagedArchiveError("it holds more data than its header declares"))
            out.write(chunk)


def _open_member(open_member, m: _Member):
    try:
        return open_member(m)
    except Exception as err:  # noqa: BLE001 — e.g. a bad local header, an encrypted member
        raise _ReadFailure(err) from err


def _write_member(m: _Member, root: Path, open_member, written: dict[str, Path]) -> None:
    target = root.joinpath(*m.name.split("/")) if m.name != "." else root
    if m.kind == "dir":
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if m.kind == "file":
        with _open_member(open_member, m) as src:
            _write_stream(src, target, m.size, m.executable)
        written[m.name] = target
    elif m.kind == "hardlink":
        if os.path.lexists(target):
            target.unlink()
        shutil.copyfile(written[m.target], target, follow_symlinks=False)
        written[m.name] = target
    elif isinstance(m.source, zipfile.ZipInfo):  # zip "symlink": a text file with the target, as zipfile writes
        with _open_member(open_member, m) as src:
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


def _write(plan: list[_Member], root: Path, open_member, archive: Path, dest: Path) -> None:
    """Write every member under ``root``; any failure becomes a clear error naming the archive and the member."""
    written: dict[str, Path] = {}
    for m in plan:
        try:
            _write_member(m, root, open_member, written)
        except _ReadFailure as failure:
            err = failure.args[0]
            if isinstance(err, (RuntimeError, NotImplementedError)):  # zipfile: encrypted, unknown method...
                raise UnsupportedArchiveError(f"extract_archive: cannot extract {archive.name}: member {m.shown!r}: "
                                              f"{err}; unpack it by hand with `7z x` (or `unzip`)") from None
            detail = str(err) if isinstance(err, DamagedArchiveError) else f"{type(err).__name__}: {err}"
            raise DamagedArchiveError(_damaged(archive, f"member {m.shown!r}: {detail}")) from None
        except OSError as err:  # the disk: full, read-only, a path too long...
            final = dest.joinpath(*m.name.split("/"))
            if is_disk_full(err):
                raise disk_full_error(f"extract_archive({archive.name}), member {m.shown!r}", final, err) from None
            raise OSError(err.errno, f"extract_archive: could not write member {m.shown!r} of {archive.name} to "
                                     f"{final} ({err.strerror or err}); nothing was extracted") from None


def _move_into(src: Path, dst: Path) -> None:
    """Move everything in folder ``src`` into folder ``dst``, merging sub-folders; renames only, never follows links."""
    with os.scandir(src) as entries:
        entries = list(entries)
    for entry in entries:
        target = dst / entry.name
        if entry.is_dir(follow_symlinks=False) and target.is_dir() and not target.is_symlink():
            _move_into(Path(entry.path), target)
            os.rmdir(entry.path)
        else:
            os.replace(entry.path, target)


def _write_staged(plan: list[_Member], archive: Path, dest: Path, open_member) -> None:
    """Write the members into a new folder on the same disk as ``dest`` (next to it, or inside it when it exists) and
    move them into place only when all were written; on any failure the folder is removed and ``dest`` is untouched."""
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    existing = dest.is_dir()
    if existing:
        staging = dest.resolve() / f".extracting-{token}"
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent.resolve() / f".{dest.name}.{token}.extracting"
    staging.mkdir()
    try:
        _write(plan, staging, open_member, archive, dest)
        if existing:
            _move_into(staging, dest.resolve())
            staging.rmdir()
        else:
            os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


_DAMAGE = (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile,
           OSError)


def _format(archive: Path) -> str:
    """"tar", "zip", "rar" or "" from the file's own header; tar first (a tar may end with a whole zip, which
    ``zipfile.is_zipfile`` finds by its end record)."""
    with open(archive, "rb") as f:
        head = f.read(512)
    if head[257:262] == b"ustar" or head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return "tar"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:4] == b"Rar!":
        return "rar"
    try:
        if tarfile.is_tarfile(archive):  # an old (v7) tar has no magic
            return "tar"
    except _DAMAGE:
        pass
    return "zip" if zipfile.is_zipfile(archive) else ""  # e.g. a self-extracting zip: a program, then the zip


def extract_archive(archive, dest, *, max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
                    max_ratio: float = DEFAULT_MAX_RATIO) -> Path:
    """Extract a .zip or .tar / .tar.gz / .tgz / .tar.bz2 / .tar.xz archive into folder ``dest``. Returns ``dest``.

    The format is told by the file's header (not its name). The whole archive is checked before anything is written;
    :class:`UnsafeArchiveError` names the first member that is refused, and nothing is extracted, when

    - a member's path is absolute, has ``..``, or passes through a symlink (one the archive creates, or one already
      inside ``dest``);
    - a symlink's target, resolved against the archive's other symlinks exactly as ``dest``'s file system will (names
      compared case-sensitively on Linux; both ways where it cannot be told), leaves ``dest``; a hard link points to
      anything but a regular file of the archive; a member is a device or FIFO;
    - the members add up to more than ``max_total_bytes`` (default 32 GiB), or unpack to more than 1 MiB at more than
      ``max_ratio`` times the archive's size, or a zip member over 1 MiB expands more than ``max_ratio``-fold (bombs).

    :class:`UnsupportedArchiveError` names a member that cannot be unpacked here (encrypted, deflate64, a name too
    long, a file where another member needs a folder). A truncated or corrupt archive (a bad CRC) raises
    :class:`DamagedArchiveError` naming the file and the member; a full disk ``OSError(ENOSPC)`` saying so. Members are
    written into a temporary folder first, so after any error ``dest`` is as it was. Zip symlinks are written as small
    text files holding the link target (as Python's zipfile does); tar symlinks become symlinks and tar hard links
    become copies.
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
    if os.path.lexists(dest) and not dest.is_dir():
        raise ValueError(f"extract_archive(dest): {str(dest)!r} exists and is not a folder")
    kind = _format(archive)
    if kind not in ("zip", "tar"):
        hint = (" (RAR archives, as UCF101 and HMDB51 ship, need `unrar x` or `7z x`)"
                if kind == "rar" or archive.suffix.lower() == ".rar" else "")
        raise ValueError(f"extract_archive(archive): {str(archive)!r} is neither a zip nor a tar archive{hint}")
    opener = zipfile.ZipFile if kind == "zip" else tarfile.open
    budget = _Budget(archive, max_total_bytes, max_ratio)
    stage = "reading"
    try:
        with opener(archive) as af:
            if kind == "zip":
                plan = _zip_plan(af, archive, max_ratio, budget)
            else:
                plan = _tar_plan(af, archive, budget)
                while af.fileobj.read(1 << 20):  # to the end: a compressed stream checks its length and CRC there
                    pass
            _check_plan(plan, archive, dest, _exact)
            if _case_sensitive(dest) is not True:  # "X" may replace "x" there: check as that file system will see it
                _check_plan(plan, archive, dest, _casefold)
            _check_layout(plan, archive, dest)
            opened = (lambda m: af.open(m.source)) if kind == "zip" else (lambda m: af.extractfile(m.source))
            stage = "writing"
            _write_staged(plan, archive, dest, opened)
    except (UnsafeArchiveError, UnsupportedArchiveError, DamagedArchiveError):
        raise
    except _DAMAGE as err:
        if isinstance(err, PermissionError) or stage == "writing":
            raise  # the disk, not the archive (already a clear message from _write, or a permission problem)
        raise DamagedArchiveError(_damaged(archive, f"{type(err).__name__}: {err}")) from None
    return dest


def _damaged(archive: Path, detail: str) -> str:
    return (f"extract_archive: {str(archive)!r} is a truncated or damaged archive ({detail}); delete it and download "
            f"it again")
