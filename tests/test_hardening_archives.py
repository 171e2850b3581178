"""Issues 9 and 23: extract_archive decides about the whole archive before writing anything, and writes all or nothing.

Every malicious archive is built here, in the test. After a refusal the destination must not exist (or be exactly as
it was) and nothing may appear next to it or outside it. Issue 23 (at the end): symlink names resolved as the file
system resolves them, failures half-way that leave nothing, the format told by the header, bombs under the total cap."""
from __future__ import annotations

import errno
import importlib
import io
import os
import stat
import sys
import tarfile
import zipfile

import pytest

from course.data import UnsafeArchiveError, extract_archive
from course.data.download import DEFAULT_MAX_TOTAL_BYTES, DamagedArchiveError, UnsupportedArchiveError

dl = importlib.import_module("course.data.download")  # the module (course.data.download is also the function)

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


# === Issue 23 (round 2) ============================================================================================

def links_stay_inside(dest):
    root = os.path.realpath(dest)
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                real = os.path.realpath(p)
                assert real == root or real.startswith(root + os.sep), f"{p} -> {real} leaves {root}"


# --- 1. symlinks are resolved as the file system resolves them (case-sensitive on Linux) ----------------------------

DEEP = "a/b/c/d/e/f/g/h/i/j"
UP = "/".join([".."] * 10)
CASE_SHAPES = {
    "x -> a, X -> deep, y -> x/../..": [(DEEP, "dir"), ("x", "sym", "a"), ("X", "sym", DEEP),
                                        ("y", "sym", f"x/{UP}/etc")],
    "X -> a, x -> deep, y -> X/../..": [(DEEP, "dir"), ("X", "sym", "a"), ("x", "sym", DEEP),
                                        ("y", "sym", f"X/{UP}/etc")],
    "deep link first": [(DEEP, "dir"), ("X", "sym", DEEP), ("x", "sym", "a"), ("y", "sym", f"x/{UP}/etc")],
    "a link through a case-variant folder": [(DEEP, "dir"), ("A", "sym", "a/b/c/d/e/f/g/h/i"), ("y", "sym", f"a/{UP}")],
    "casefold-only twins (ss and \u00df)": [(DEEP, "dir"), ("ss", "sym", "a"), ("\u00df", "sym", DEEP),
                                            ("y", "sym", f"ss/{UP}/etc")],
    "a chain of case variants": [(DEEP, "dir"), ("l", "sym", "a"), ("L", "sym", DEEP), ("m", "sym", "l/.."),
                                 ("y", "sym", f"m/{UP}")],
}


@pytest.mark.parametrize("case", sorted(CASE_SHAPES))
def test_case_variant_symlinks_never_lead_outside_dest(tmp_path, case):
    archive = make_tar(tmp_path / "links.tar", CASE_SHAPES[case])
    dest = tmp_path / "dest"
    try:
        extract_archive(archive, dest)
    except UnsafeArchiveError as err:
        assert "links.tar" in str(err) and not dest.exists()
        return
    links_stay_inside(dest)


def test_a_case_insensitive_file_system_is_checked_as_such(tmp_path, monkeypatch):
    """On Linux the later 'X -> a' is another file and the archive is safe; where 'X' replaces 'x' (macOS, Windows) the
    same archive leads outside, so it must be refused there, and when the case-sensitivity cannot be told."""
    members = [(DEEP, "dir"), ("x", "sym", DEEP), ("X", "sym", "a"), ("y", "sym", f"x/{UP}/etc")]
    archive = make_tar(tmp_path / "twins.tar", members)
    assert dl._case_sensitive(tmp_path) is True  # tmp_path is on Linux's case-sensitive file system
    out = extract_archive(archive, tmp_path / "linux")
    links_stay_inside(out)
    for answer in (False, None):
        monkeypatch.setattr(dl, "_case_sensitive", lambda folder, answer=answer: answer)
        with pytest.raises(UnsafeArchiveError, match="'y'.*leads outside"):
            extract_archive(archive, tmp_path / f"other-{answer}")
        assert not (tmp_path / f"other-{answer}").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["linux", "twins.tar"], "the probe file is removed"


# --- 2. all or nothing, and errors that name the archive and the member ----------------------------------------------

def patch_zip(path, member_index: int, *, flag: int = 0, method: int | None = None):
    """Set a general-purpose flag bit or the compression method of one member, in its local and central headers."""
    data = bytearray(path.read_bytes())
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = -1
        for _ in range(member_index + 1):
            at = data.index(signature, at + 1)
        data[at + flag_at] |= flag
        if method is not None:
            data[at + method_at:at + method_at + 2] = method.to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path


def bad_crc_zip(path):
    make_zip(path, [("person11_boxing_d1_uncomp.avi", os.urandom(40_000)),
                  ("person12_boxing_d1_uncomp.avi", os.urandom(40_000))], zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[data.index(b"person12_boxing_d1") + 20_000] ^= 0xFF  # in the second member's data
    path.write_bytes(bytes(data))
    return path


def failing_archive(tmp_path, case):
    ok = ("ok.avi", os.urandom(5000))
    if case == "bad CRC":
        return bad_crc_zip(tmp_path / "a.zip"), "person12_boxing_d1_uncomp.avi", DamagedArchiveError
    if case == "encrypted member":
        return (patch_zip(make_zip(tmp_path / "a.zip", [ok, ("secret.avi", b"x" * 100)]), 1, flag=0x1),
                "secret.avi", UnsupportedArchiveError)
    if case == "deflate64 member":
        return (patch_zip(make_zip(tmp_path / "a.zip", [ok, ("d64.avi", b"x" * 100)]), 1, method=9),
                "d64.avi", UnsupportedArchiveError)
    if case == "file a, then a/b (tar)":
        return make_tar(tmp_path / "a.tar", [("ok.avi", "file", ok[1]), ("a", "file", b"A"), ("a/b", "file", b"B")]), \
            "a/b", UnsupportedArchiveError
    if case == "file a, then a/b (zip)":
        return make_zip(tmp_path / "a.zip", [ok, ("a", b"A"), ("a/b", b"B")]), "a/b", UnsupportedArchiveError
    if case == "name over 255 bytes":
        long_name = "v" * 300 + ".avi"
        return make_tar(tmp_path / "a.tar", [("ok.avi", "file", ok[1]), (long_name, "file", b"x")]), long_name[:40], \
            UnsupportedArchiveError
    raise AssertionError(case)


FAILURES = ["bad CRC", "encrypted member", "deflate64 member", "file a, then a/b (tar)", "file a, then a/b (zip)",
            "name over 255 bytes"]


@pytest.mark.parametrize("existing", [False, True], ids=["new dest", "existing dest"])
@pytest.mark.parametrize("case", FAILURES)
def test_a_failing_member_leaves_nothing_and_names_archive_and_member(tmp_path, case, existing):
    archive, member, error = failing_archive(tmp_path, case)
    dest = tmp_path / "out"
    if existing:
        dest.mkdir()
        (dest / "mine.txt").write_text("kept")
    before = snapshot(tmp_path)
    with pytest.raises(error) as err:
        extract_archive(archive, dest)
    assert archive.name in str(err.value) and member in str(err.value), err.value
    assert snapshot(tmp_path) == before, "a failed extraction writes nothing: no member, no temporary folder"


def test_a_failure_while_writing_removes_the_temporary_folder_and_names_the_member(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "a.zip", [("one.avi", b"1" * 1000), ("two.avi", b"2" * 1000)])
    real = dl._copy_stream
    calls = []

    def full_on_second(src, fd, target, limit):
        calls.append(target)
        if len(calls) == 2:
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, fd, target, limit)

    monkeypatch.setattr(dl, "_copy_stream", full_on_second)
    with pytest.raises(OSError, match="disk is full.*two.avi") as err:
        extract_archive(archive, tmp_path / "out")
    assert err.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_kth_download_retries_a_class_whose_archive_failed(tmp_path, monkeypatch):
    """Before: the first member landed in root/boxing, so every later KTH.download skipped boxing for good."""
    from course.data import real_datasets

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    bad_crc_zip(mirror / "boxing.zip")
    monkeypatch.setattr(real_datasets.KTH, "FILES", (((mirror / "boxing.zip").as_uri(), "boxing.zip", None),))
    root = tmp_path / "kth"
    with pytest.raises(DamagedArchiveError, match=r"boxing\.zip.*person12_boxing_d1_uncomp\.avi"):
        real_datasets.KTH.download(root)
    assert not (root / "boxing").exists()
    make_zip(mirror / "boxing.zip", [("person11_boxing_d1_uncomp.avi", b"1" * 100),
                                   ("person12_boxing_d1_uncomp.avi", b"2" * 100)])  # the user fetches it again
    real_datasets.KTH.download(root)
    assert sorted(p.name for p in (root / "boxing").iterdir()) == ["person11_boxing_d1_uncomp.avi",
                                                                   "person12_boxing_d1_uncomp.avi"]


# --- 4. the format is told by the header, tar first -----------------------------------------------------------------

def test_a_tar_ending_in_a_zip_is_extracted_as_a_tar(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("from_the_zip.txt", b"zip")
    archive = make_tar(tmp_path / "t.tar", [("data/a.txt", "file", b"A"), ("inner.zip", "file", inner.getvalue())])
    assert zipfile.is_zipfile(archive), "the shape of the issue: zipfile believes it is a zip"
    out = extract_archive(archive, tmp_path / "out")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["data", "data/a.txt", "inner.zip"]


# --- 5. bombs under the total cap ------------------------------------------------------------------------------------

def test_a_zip_of_many_one_mib_members_is_a_bomb(tmp_path):
    archive = make_zip(tmp_path / "many.zip", [(f"z{i:02d}.bin", bytes(1 << 20)) for i in range(24)])
    with pytest.raises(UnsafeArchiveError, match=r"refusing many\.zip.*-fold.*max_ratio=200.*bomb"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert len(list(extract_archive(archive, tmp_path / "out", max_ratio=10_000).iterdir())) == 24


def test_a_tar_gz_expanding_a_thousandfold_is_a_bomb(tmp_path):
    archive = make_tar(tmp_path / "zeros.tar.gz", [("ok.txt", "file", b"fine"), ("zeros.bin", "file", bytes(24 << 20))],
                     "w:gz")
    assert archive.stat().st_size * 500 < 24 << 20
    with pytest.raises(UnsafeArchiveError, match=r"refusing zeros\.tar\.gz.*zeros\.bin.*-fold.*bomb"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_hard_links_count_as_the_copies_they_become(tmp_path):
    """Each tar hard link is written as a copy: 60 links to a 200 kB file unpack 12 MB from a 200 kB archive."""
    members = [("v.avi", "file", os.urandom(200_000))] + [(f"copy{i}.avi", "hard", "v.avi") for i in range(60)]
    archive = make_tar(tmp_path / "links.tar.gz", members, "w:gz")
    with pytest.raises(UnsafeArchiveError, match=r"refusing links\.tar\.gz.*copy\d+\.avi.*-fold.*max_ratio=10"):
        extract_archive(archive, tmp_path / "out", max_ratio=10)
    assert not (tmp_path / "out").exists()
    assert len(list(extract_archive(archive, tmp_path / "out", max_ratio=100).iterdir())) == 61


def test_a_zip_symlink_is_not_read_into_memory_when_huge(tmp_path):
    archive = make_zip(tmp_path / "l.zip", [("l", bytes(5 << 20), stat.S_IFLNK | 0o777)])
    with pytest.raises(UnsafeArchiveError, match="'l' is a symlink whose target is 5242880 bytes long"):
        extract_archive(archive, tmp_path / "out", max_ratio=10 ** 6)


def test_ordinary_archives_are_not_bombs(tmp_path):
    """Incompressible data (videos) and a small text archive (split lists, 20x) pass."""
    videos = make_tar(tmp_path / "v.tar.gz", [(f"v{i}.avi", "file", os.urandom(600_000)) for i in range(4)], "w:gz")
    assert len(list(extract_archive(videos, tmp_path / "v").iterdir())) == 4
    lines = "".join(f"ApplyEyeMakeup/v_ApplyEyeMakeup_g{i:02d}_c01.avi 1\n" for i in range(40_000)).encode()
    text = make_zip(tmp_path / "splits.zip", [("trainlist01.txt", lines)])
    assert (extract_archive(text, tmp_path / "s") / "trainlist01.txt").read_bytes() == lines
