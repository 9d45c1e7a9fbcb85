"""What a file given as a program is when it is not text: `cnnc shapes lenet.npz` says "it is a
numpy .npz archive (weights?), not a cnnc program" rather than quoting a UTF-8 decoder."""

from __future__ import annotations

# first bytes -> what the file is (the formats a cnnc user has lying around)
_MAGIC = (
    (b"PK\x03\x04", "a zip archive (weights saved as .npz, or a .keras model?)"),
    (b"\x93NUMPY", "a numpy .npy array"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras weights?)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x7fELF", "an executable"),
)


def _known(data: bytes) -> "str | None":
    """The format `data` (a file's first bytes) announces, if it is one of _MAGIC's or
    safetensors (an 8-byte header length, then the JSON header)."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    if len(data) >= 9 and data[8:9] == b"{" and int.from_bytes(data[:8], "little") <= len(data):
        return "a safetensors file (weights?)"
    return None


def program_text(data: bytes) -> str:
    """A program file's bytes as text (UTF-8; a stray NUL is the parser's to point at, with
    its place); ValueError saying what the file is when it is not a program."""
    what = _known(data)
    if what is None:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            what = "a binary file (not UTF-8 text)"
    raise ValueError(f"it is {what}, not a cnnc program (a .cnn text file)")
