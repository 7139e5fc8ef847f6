"""What a bulk scan reads: folders, list files, exported posts (JSONL) and object-store URIs, as scan items.

A scan item is one post: its media (local paths or URIs), and for exported posts the caption and author, so a
caption is judged with its images. Walking a folder never follows a link out of the scanned root unless asked
(`follow_links`), never descends into a link loop, and never opens a FIFO or a device (opening a FIFO would block
the scan forever); each such entry becomes a line of its own, as does a folder that cannot be listed. Media are
read here too (`read_media`): the size is checked before reading, and only a regular file is read.

Names are kept as Python reads them (undecodable bytes as surrogates, so the file can still be opened); the key
that identifies an item in the output is `display_name`'s escaped form, which is always valid UTF-8.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.errors import BadInput, MediaTooLarge

MEDIA_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".mp4", ".mov", ".webm", ".avi"}
)
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".webm", ".avi"})
POSTS_SUFFIXES = frozenset({".jsonl", ".ndjson"})
URI_SCHEMES = ("s3://", "gs://", "gcs://", "hdfs://", "abfs://", "file://")


def is_uri(text: str) -> bool:
    return text.lower().startswith(URI_SCHEMES)


def display_name(name: str) -> str:
    """`name` as valid UTF-8 text: bytes that were not UTF-8 (surrogate escapes) become `\\xNN`."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte (from JSON text)
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def terminal_safe(text: str) -> str:
    """`text` safe to print on a terminal: control and bidi-formatting characters and undecodable bytes are
    escaped (`\\x1b`, `\\u202e`), so a file name cannot move the cursor, clear the screen or reorder a line."""
    out = []
    for ch in display_name(text):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class ScanItem:
    """One post to screen. `key` identifies it in the output (unique in a scan, valid UTF-8)."""

    key: str
    media: tuple[str, ...]
    caption: str = ""
    author: dict[str, Any] | None = None  # exported posts: account_id, display_name, group_id, group_admins
    post_id: str = ""


@dataclass
class Inputs:
    """Items to screen and the lines already decided while listing (refused links, FIFOs, unreadable folders),
    with every key in the order the inputs were listed (the order of the finished output)."""

    items: list[ScanItem] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def add(self, entry: ScanItem | dict[str, Any]) -> None:
        if isinstance(entry, ScanItem):
            self.items.append(entry)
            self.order.append(entry.key)
        else:
            self.lines.append(entry)
            self.order.append(entry["file"])


def skip_line(key: str, reason: str, skip_type: str) -> dict[str, Any]:
    return {"file": key, "skipped": reason, "skip_type": skip_type}


def error_line(key: str, message: str, error_type: str) -> dict[str, Any]:
    return {"file": key, "error": display_name(message), "error_type": error_type}


_SPECIAL = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def special_kind(mode: int) -> str | None:
    for test, what in _SPECIAL:
        if test(mode):
            return what
    return None


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def walk_folder(root: str, prefix: str = "", *, follow_links: bool = False) -> Inputs:
    """Media files under `root` (sorted), each as a one-file item keyed by its path relative to `root`."""
    found = Inputs()
    real_root = os.path.realpath(root)
    visited: set[str] = {real_root}

    def key_of(rel: str) -> str:
        return display_name(prefix + rel.replace(os.sep, "/"))

    def walk(folder: str, rel: str) -> None:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            found.add(error_line(key_of(rel or "."), f"cannot list folder: {exc.strerror}", "Unreadable"))
            return
        for entry in entries:
            sub = rel + entry.name
            try:
                if entry.is_symlink():
                    link(entry.path, sub)
                elif entry.is_dir(follow_symlinks=False):
                    walk(entry.path, sub + os.sep)
                elif entry.is_file(follow_symlinks=False):
                    if Path(entry.name).suffix.lower() in MEDIA_SUFFIXES:
                        found.add(ScanItem(key=key_of(sub), media=(entry.path,)))
                else:
                    what = special_kind(entry.stat(follow_symlinks=False).st_mode) or "not a regular file"
                    found.add(skip_line(key_of(sub), f"{what}: not read", "NotRegularFile"))
            except OSError as exc:
                found.add(error_line(key_of(sub), f"cannot read entry: {exc.strerror}", "Unreadable"))

    def link(path: str, rel: str) -> None:
        try:
            target = os.path.realpath(path, strict=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                found.add(skip_line(key_of(rel), "symbolic link loop: not followed", "SymlinkLoop"))
            else:
                found.add(skip_line(key_of(rel), "broken symbolic link: its target does not exist",
                                             "BrokenSymlink"))
            return
        inside = _within(target, real_root)
        if not inside and not follow_links:
            found.add(skip_line(
                key_of(rel), "symbolic link to a place outside the scanned folder: refused (--follow-links to allow)",
                "SymlinkOutsideRoot"))
            return
        st = os.stat(target)
        if stat.S_ISDIR(st.st_mode):
            if inside or target in visited or any(_within(target, v) or _within(v, target) for v in visited):
                found.add(skip_line(
                    key_of(rel), "symbolic link to a folder scanned elsewhere (a loop or a second path): not followed",
                    "SymlinkLoop"))
                return
            visited.add(target)
            walk(target, rel + os.sep)
        elif stat.S_ISREG(st.st_mode):
            if Path(rel).suffix.lower() in MEDIA_SUFFIXES or Path(target).suffix.lower() in MEDIA_SUFFIXES:
                found.add(ScanItem(key=key_of(rel), media=(target,)))
        else:
            what = special_kind(st.st_mode) or "not a regular file"
            found.add(skip_line(key_of(rel), f"symbolic link to {what}: not read", "NotRegularFile"))

    walk(root, "")
    return found


def walk_uri(uri: str, prefix: str = "", file_key: str | None = None) -> Inputs:
    """Media objects under an object-store URI (s3://bucket/prefix, with `?endpoint_override=host:port&scheme=http`
    for S3-compatible storage), through pyarrow's filesystems. A URI naming one object gives one item, keyed
    `file_key` (default: the object's name)."""
    fs, base = _filesystem(uri)
    import pyarrow.fs as pafs

    found = Inputs()
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.File:
        found.add(ScanItem(key=display_name(file_key or prefix + Path(base).name), media=(uri,)))
        return found
    if info.type == pafs.FileType.NotFound:
        raise BadInput(f"{uri}: not found")
    head = uri.split("?", 1)[0].rstrip("/")
    query = "?" + uri.split("?", 1)[1] if "?" in uri else ""
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    for fi in sorted(infos, key=lambda f: f.path):
        if fi.type != pafs.FileType.File or Path(fi.path).suffix.lower() not in MEDIA_SUFFIXES:
            continue
        rel = fi.path[len(base.rstrip("/")) + 1:]
        found.add(ScanItem(key=display_name(prefix + rel), media=(f"{head}/{rel}{query}",)))
    return found


def _filesystem(uri: str) -> tuple[Any, str]:
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise BadInput(f"{uri}: reading object storage needs pyarrow (pip install pyarrow)") from None
    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError with the reason
        raise BadInput(f"{uri}: cannot open ({exc})") from None


def _resolve(entry: str, base: Path) -> str:
    if is_uri(entry) or os.path.isabs(entry):
        return entry
    return os.path.join(base, entry)


def read_list(path: Path, *, follow_links: bool = False) -> Inputs:
    """A list file: one path or URI per line (relative paths are relative to the list's folder); blank lines and
    lines starting with # are ignored. A folder named in it is walked."""
    found = Inputs()
    raw = Path(path).read_bytes()
    for line in raw.splitlines():
        entry = os.fsdecode(line.strip())
        if not entry or entry.startswith("#"):
            continue
        target = _resolve(entry, Path(path).parent)
        if is_uri(target):
            _merge(found, walk_uri(target, prefix=entry.rstrip("/") + "/", file_key=entry))
        elif os.path.isdir(target):
            _merge(found, walk_folder(target, prefix=entry.rstrip("/") + "/", follow_links=follow_links))
        else:
            found.add(ScanItem(key=display_name(entry), media=(target,)))
    return found


def _merge(into: Inputs, more: Inputs) -> None:
    into.items.extend(more.items)
    into.lines.extend(more.lines)
    into.order.extend(more.order)


def read_posts(path: Path, prefix: str = "") -> Inputs:
    """Exported posts, one JSON object a line: `post_id` (or `id`), `caption` (or `text`), `author` (an object
    with `account_id`, `display_name`, `group_id`, `group_admins`, or just the account id), `media_paths` (or
    `media`: paths relative to this file, or URIs). Other keys are ignored. A line that is not such an object
    becomes an error line of its own."""
    found = Inputs()
    seen: set[str] = set()
    base = Path(path).parent
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            where = f"{prefix}{Path(path).name}:{lineno}"
            try:
                obj = json.loads(raw)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                post_id = str(obj.get("post_id") or obj.get("id") or "")
                caption = obj.get("caption", obj.get("text", "")) or ""
                media = obj.get("media_paths", obj.get("media", [])) or []
                author = obj.get("author") or {}
                if isinstance(author, str):
                    author = {"account_id": author}
                if not isinstance(caption, str) or not isinstance(media, list) or not isinstance(author, dict):
                    raise ValueError("caption must be text, media_paths a list and author an object")
                if not all(isinstance(m, str) and m for m in media):
                    raise ValueError("media_paths must hold file paths")
                if not media and not caption.strip():
                    raise ValueError("a post needs media or a caption")
                admins = author.get("group_admins") or []
                author = {
                    "account_id": str(author.get("account_id") or ""),
                    "display_name": str(author.get("display_name") or ""),
                    "group_id": None if author.get("group_id") is None else str(author["group_id"]),
                    "group_admins": [str(a) for a in admins] if isinstance(admins, list) else [],
                }
            except (ValueError, UnicodeDecodeError) as exc:
                found.add(error_line(where, f"not a post: {exc}", "BadInput"))
                continue
            key = display_name(prefix + post_id) if post_id else where
            if key in seen:
                key = f"{key} ({where})"
            seen.add(key)
            found.add(ScanItem(key=key, media=tuple(_resolve(m, base) for m in media), caption=caption,
                                        author=author, post_id=post_id))
    return found


def collect(inputs: Sequence[str | os.PathLike[str]], *, follow_links: bool = False) -> Inputs:
    """Every item of every input: a folder, a media file, a list file (.txt, .lst or any other file that is not
    media), a JSONL of exported posts, or a URI. With one input, keys are relative to it; with several, each key
    starts with the input as given."""
    found = Inputs()
    several = len(inputs) > 1
    for given in inputs:
        text = os.fspath(given)
        prefix = text.rstrip("/") + "/" if several else ""
        if is_uri(text):
            _merge(found, walk_uri(text, prefix=prefix, file_key=text if several else None))
            continue
        p = Path(text)
        if p.is_dir():
            _merge(found, walk_folder(text, prefix=prefix, follow_links=follow_links))
        elif not p.exists():
            raise BadInput(f"{display_name(text)}: no such file or folder")
        elif p.suffix.lower() in POSTS_SUFFIXES:
            _merge(found, read_posts(p, prefix=prefix))
        elif p.suffix.lower() in MEDIA_SUFFIXES:
            found.add(ScanItem(key=display_name(text if several else p.name), media=(text,)))
        else:
            _merge(found, read_list(p, follow_links=follow_links))
    keys = [i.key for i in found.items] + [line["file"] for line in found.lines]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:3]
        raise BadInput(f"two inputs give the same name ({', '.join(dup)}); scan them into separate outputs")
    return found


def read_media(ref: str, max_bytes: int) -> bytes:
    """The bytes of a local file or a URI, refusing anything over `max_bytes` before reading it and anything that
    is not a regular file (a FIFO would block, a device never ends)."""
    name = display_name(os.path.basename(ref.split("?", 1)[0].rstrip("/")) or ref)
    if is_uri(ref):
        fs, path = _filesystem(ref)
        try:
            size = fs.get_file_info(path).size
        except Exception as exc:  # noqa: BLE001 - pyarrow's errors (ArrowIOError, ArrowInvalid...) say why
            raise BadInput(f"{name}: cannot read ({display_name(str(exc))})") from None
        if size is not None and size > max_bytes:
            raise MediaTooLarge(f"{name}: {size} bytes is over the {max_bytes}-byte limit")
        try:
            with fs.open_input_stream(path) as fh:
                data = fh.read(max_bytes + 1)
        except Exception as exc:  # noqa: BLE001 - as above
            raise BadInput(f"{name}: cannot read ({display_name(str(exc))})") from None
    else:
        try:
            fd = os.open(ref, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise BadInput(f"{name}: cannot read file ({exc.strerror})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                what = special_kind(st.st_mode) or "not a regular file"
                raise BadInput(f"{name}: {what}, not read")
            if st.st_size > max_bytes:
                raise MediaTooLarge(f"{name}: {st.st_size} bytes is over the {max_bytes}-byte limit")
            chunks = []
            left = max_bytes + 1
            while left > 0:
                try:
                    chunk = os.read(fd, min(left, 1 << 20))
                except OSError as exc:
                    raise BadInput(f"{name}: cannot read file ({exc.strerror})") from None
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            data = b"".join(chunks)
        finally:
            os.close(fd)
    if len(data) > max_bytes:
        raise MediaTooLarge(f"{name}: over the {max_bytes}-byte limit")
    return data
