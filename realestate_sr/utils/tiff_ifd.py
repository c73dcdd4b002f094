"""Walking TIFF image file directories (IFDs) in raw bytes: TIFF files and EXIF blocks (which are TIFF inside).

Used where the bytes must be read or patched in place rather than re-serialised: EXIF orientation and preview
edits that keep maker notes byte for byte, and header checks before decoding. Truncated data ends a walk
quietly; callers treat a missing answer as "not present".
"""
import struct

SHORT, LONG = 3, 4


def tiff_header(data):
    """(endian '<' or '>', offset of IFD0) of TIFF bytes, or None when they are not TIFF."""
    if len(data) < 8 or data[:2] not in (b'II', b'MM'):
        return None
    endian = '<' if data[:2] == b'II' else '>'
    return endian, struct.unpack_from(endian + 'I', data, 4)[0]


def ifd_entries(data, endian, offset):
    """Yield (entry position, tag, field type, count) of the IFD at ``offset``; nothing if it is out of range."""
    if offset + 2 > len(data):
        return
    for index in range(struct.unpack_from(endian + 'H', data, offset)[0]):
        entry = offset + 2 + 12 * index
        if entry + 12 > len(data):
            return
        yield (entry, *struct.unpack_from(endian + 'HHI', data, entry))


def next_ifd_link(data, endian, offset):
    """Position of the 4-byte link from the IFD at ``offset`` to the next IFD, or None when out of range."""
    if offset + 2 > len(data):
        return None
    link = offset + 2 + 12 * struct.unpack_from(endian + 'H', data, offset)[0]
    return link if link + 4 <= len(data) else None


def first_value(data, endian, entry, field_type, count):
    """The first SHORT or LONG value of an entry (inline when it fits in 4 bytes, else at its offset), or None."""
    size = {SHORT: 2, LONG: 4}.get(field_type)
    if size is None:
        return None
    at = entry + 8 if size * count <= 4 else struct.unpack_from(endian + 'I', data, entry + 8)[0]
    if at + size > len(data):
        return None
    return struct.unpack_from(endian + ('H' if size == 2 else 'I'), data, at)[0]
