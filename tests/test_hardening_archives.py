"""Issue 9, part 1: extract_archive decides about the whole archive before writing anything.

Every malicious archive is built here, in the test. After a refusal the destination must not exist (or be exactly as
it was) and nothing may appear next to it or outside it."""
from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
import zipfile

import pytest

from course.data import UnsafeArchiveError, extract_archive
from course.data.download import DEFAULT_MAX_TOTAL_BYTES, DamagedArchiveError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="builds POSIX symlinks")


def add(tf: tarfile.TarFile, name: str, kind: str = "file", payload=b""):
    info = tarfile.TarInfo(name)
    if kind == "file":
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
        return
    info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE}[kind]
    if kind == "dir":
        info.mode = 0o755
    else:
        info.linkname = payload
    tf.addfile(info)


def make_tar(path, members, mode="w"):
    with tarfile.open(path, mode) as tf:
        for member in members:
            add(tf, *member)
    return path


def snapshot(folder):
    """Every path under ``folder`` (not following links) with its kind and content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                out[p] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                out[p] = ("file", open(p, "rb").read())
            else:
                out[p] = ("dir", None)
    return out


@pytest.fixture
def arena(tmp_path):
    """tmp_path/src holds the archive, tmp_path/outside.txt a file an attacker wants to overwrite."""
    (tmp_path / "src").mkdir()
    (tmp_path / "outside.txt").write_text("secret")
    return tmp_path


def refused(arena, archive, dest, member):
    before = snapshot(arena)
    with pytest.raises(UnsafeArchiveError, match=f"refusing {archive.name}") as err:
        extract_archive(archive, dest)
    assert member in str(err.value), f"the error must name the member {member!r}: {err.value}"
    assert snapshot(arena) == before, "a refused archive must not write anything, anywhere"
    assert (arena / "outside.txt").read_text() == "secret"


CHAINS = {
    # a/b -> .. looks inside (a/..), esc -> a/b/.. looks inside (a) but really is the parent of dest
    "symlink chain, then a file through it": (
        [("a", "dir"), ("a/b", "sym", ".."), ("esc", "sym", "a/b/.."), ("esc/evil.txt", "file", b"pwned")], "esc"),
    "symlink chain alone": ([("a", "dir"), ("a/b", "sym", ".."), ("esc", "sym", "a/b/..")], "esc"),
    "hard link through a symlink chain, then overwrite": (
        [("a", "dir"), ("a/b", "sym", ".."), ("esc", "sym", "a/b/.."), ("h", "hard", "esc/outside.txt"),
         ("h", "file", b"pwned")], "esc"),
    "file through an inside symlink": ([("d", "dir"), ("l", "sym", "d"), ("l/x.txt", "file", b"x")], "l/x.txt"),
    "hard link to a later member": ([("h", "hard", "x.txt"), ("x.txt", "file", b"x")], "h"),
    "empty-named symlink": ([("ok.txt", "file", b"fine"), ("", "sym", ".")], "''"),
    "symlink loop": ([("l1", "sym", "l2/x"), ("l2", "sym", "l1/y")], "l1"),
    "file then symlink of the same name": ([("x", "file", b"x"), ("x", "sym", "../outside.txt")], "x"),
}


@pytest.mark.parametrize("case", sorted(CHAINS))
def test_tar_symlink_and_hardlink_tricks_are_refused_before_writing(arena, case):
    members, name = CHAINS[case]
    archive = make_tar(arena / "src" / "bad.tar", members)
    refused(arena, archive, arena / "dest", name)
    assert not (arena / "dest").exists() and not (arena / "evil.txt").exists()


def test_long_path_variant_of_cve_2025_4517_is_refused(arena):
    """The realpath/PATH_MAX attack: a link chain whose real path is too long for os.path.realpath to expand, so the
    standard library's data filter (before its 2025 fix) lets a hard link overwrite a file outside dest."""
    dest = arena / "dest"
    flag = arena / "flag"
    flag.write_text("original")
    steps = "abcdefghijklmnop"
    path_max = os.pathconf(arena, "PC_PATH_MAX") if "PC_PATH_MAX" in os.pathconf_names else 4096
    component = "d" * ((path_max - len(str(dest)) - 1) // (len(steps) + 1))
    members, path = [], ""
    for step in steps:
        members += [(os.path.join(path, component), "dir"), (os.path.join(path, step), "sym", component)]
        path = os.path.join(path, component)
    linkpath = os.path.join(*steps, "l" * 254)
    members += [(linkpath, "sym", os.path.join(*[".."] * len(steps))),
                ("escape", "sym", os.path.join(linkpath, "..")),
                ("flaglink", "hard", os.path.join("escape", "flag")),
                ("flaglink", "file", b"overwrite"),
                ("escape/newfile", "file", b"new")]
    archive = make_tar(arena / "src" / "cve.tar", members)
    refused(arena, archive, dest, os.path.join("a", "b"))
    assert flag.read_text() == "original" and not (arena / "newfile").exists() and not dest.exists()


def test_tar_member_through_a_symlink_already_in_dest_is_refused(arena):
    dest = arena / "dest"
    (arena / "elsewhere").mkdir()
    dest.mkdir()
    (dest / "videos").symlink_to(arena / "elsewhere")
    archive = make_tar(arena / "src" / "a.tar.gz", [("videos/evil.txt", "file", b"pwned")], "w:gz")
    refused(arena, archive, dest, "videos/evil.txt")
    assert list((arena / "elsewhere").iterdir()) == []


def make_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data, *mode in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if mode:
                info.external_attr = mode[0] << 16
            zf.writestr(info, data)
    return path


def test_zip_never_writes_through_a_symlink_in_dest(arena):
    dest = arena / "dest"
    dest.mkdir()
    (arena / "elsewhere").mkdir()
    (dest / "sub").symlink_to(arena / "elsewhere")
    archive = make_zip(arena / "src" / "a.zip", [("ok.txt", b"fine"), ("sub/evil.txt", b"pwned")])
    refused(arena, archive, dest, "sub/evil.txt")
    assert list((arena / "elsewhere").iterdir()) == []


def test_zip_replaces_a_symlink_at_a_member_path_instead_of_following_it(arena):
    dest = arena / "dest"
    dest.mkdir()
    (dest / "notes.txt").symlink_to(arena / "outside.txt")
    extract_archive(make_zip(arena / "src" / "a.zip", [("notes.txt", b"from the archive")]), dest)
    assert (arena / "outside.txt").read_text() == "secret"
    assert not (dest / "notes.txt").is_symlink() and (dest / "notes.txt").read_bytes() == b"from the archive"


def test_zip_member_through_a_zip_symlink_is_refused(arena):
    archive = make_zip(arena / "src" / "a.zip", [("l", b".", stat.S_IFLNK | 0o777), ("l/x.txt", b"x")])
    refused(arena, archive, arena / "dest", "l/x.txt")


def test_zip_bomb_is_refused_before_writing(arena):
    archive = make_zip(arena / "src" / "bomb.zip", [("ok.txt", b"fine"), ("zeros.bin", bytes(8 << 20))])
    assert archive.stat().st_size < 100_000  # 8 MiB of zeros deflate to a few kB
    before = snapshot(arena)
    with pytest.raises(UnsafeArchiveError, match="zeros.bin.*zip bomb"):
        extract_archive(archive, arena / "dest")
    assert snapshot(arena) == before and not (arena / "dest").exists()
    out = extract_archive(archive, arena / "dest", max_ratio=10_000)  # the caller can allow it
    assert (out / "zeros.bin").stat().st_size == 8 << 20


def test_total_size_cap_is_checked_before_writing_and_is_overridable(arena):
    archive = make_zip(arena / "src" / "big.zip", [(f"f{i}.bin", os.urandom(100_000)) for i in range(3)])
    with pytest.raises(UnsafeArchiveError, match="300000 bytes.*max_total_bytes=250000"):
        extract_archive(archive, arena / "dest", max_total_bytes=250_000)
    assert not (arena / "dest").exists()
    tar = make_tar(arena / "src" / "big.tar", [(f"f{i}.bin", "file", os.urandom(100_000)) for i in range(3)])
    with pytest.raises(UnsafeArchiveError, match="max_total_bytes"):
        extract_archive(tar, arena / "dest", max_total_bytes=250_000)
    assert not (arena / "dest").exists()
    assert DEFAULT_MAX_TOTAL_BYTES > 6.5e9 * 2, "the default must fit UCF101 (6.5 GB) comfortably"
    assert len(list(extract_archive(archive, arena / "dest", max_total_bytes=300_000).iterdir())) == 3
    for bad in (0, -1, 1.5, True, "1e9"):
        with pytest.raises(ValueError, match="max_total_bytes"):
            extract_archive(archive, arena / "x", max_total_bytes=bad)
    with pytest.raises(ValueError, match="max_ratio"):
        extract_archive(archive, arena / "x", max_ratio=0.5)


# --- damaged archives ---------------------------------------------------------------------------------------------

def payload_tar(path, mode):
    return make_tar(path, [(f"v{i}.avi", "file", os.urandom(150_000)) for i in range(3)], mode)


@pytest.mark.parametrize("fraction", [0.5, 0.9, "last bytes"])
@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar", "tar.xz"])
def test_truncated_archive_is_a_clear_error_naming_the_file(arena, kind, fraction):
    good = arena / "src" / f"good.{kind}"
    if kind == "zip":
        make_zip(good, [(f"v{i}.avi", os.urandom(150_000)) for i in range(3)])
    else:
        payload_tar(good, {"tar.gz": "w:gz", "tar": "w", "tar.xz": "w:xz"}[kind])
    data = good.read_bytes()
    cut = len(data) - 10 if fraction == "last bytes" else int(len(data) * fraction)
    bad = arena / "src" / f"UCF101-part.{kind}"
    bad.write_bytes(data[:cut])
    if kind == "tar" and fraction == "last bytes":
        pytest.skip("a plain tar that only lost its end-of-archive padding still holds every member intact")
    with pytest.raises(DamagedArchiveError, match=rf"UCF101-part\.{kind}' is a truncated or damaged archive"):
        extract_archive(bad, arena / "dest")
    assert not (arena / "dest").exists(), "a truncated archive is detected before anything is written"


def test_corrupt_zip_member_is_reported_as_damage(arena):
    good = make_zip(arena / "src" / "c.zip", [("a.bin", os.urandom(50_000))], compression=zipfile.ZIP_STORED)
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    good.write_bytes(bytes(data))
    with pytest.raises(DamagedArchiveError, match=r"c\.zip' is a truncated or damaged archive"):
        extract_archive(good, arena / "dest")
    assert not (arena / "dest" / "a.bin").exists(), "the half-written member is removed"


# --- what must keep working -----------------------------------------------------------------------------------------

def test_safe_links_still_extract_and_extraction_can_be_repeated(arena):
    archive = make_tar(arena / "src" / "ok.tar.gz",
                       [("./", "dir"), ("./d", "dir"), ("./d/x.txt", "file", b"X"), ("./d/link", "sym", "x.txt"),
                        ("./top", "sym", "d/x.txt"), ("./d/hard", "hard", "d/x.txt"), ("./run.sh", "file", b"#!")],
                       "w:gz")
    for _ in range(2):  # a second run over an existing folder (and its own symlinks) works too
        out = extract_archive(archive, arena / "dest")
        assert (out / "d" / "link").is_symlink() and (out / "d" / "link").read_bytes() == b"X"
        assert (out / "top").read_bytes() == b"X" and (out / "d" / "hard").read_bytes() == b"X"
    assert (arena / "outside.txt").read_text() == "secret"
