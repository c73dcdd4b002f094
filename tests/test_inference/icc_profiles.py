"""Small matrix/TRC ICC v2 display profiles built in the test, plus the colour maths to check conversions.

Pillow's ImageCms.createProfile makes only sRGB/LAB/XYZ, so Display P3 and Adobe RGB are written here from
their published primaries (D65 white, colorants Bradford-adapted to the D50 PCS, as ICC requires).
"""
import struct

import numpy as np

D65 = np.array([0.95047, 1.0, 1.08883])
D50 = np.array([0.96422, 1.0, 0.82521])
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
P3_PRIMARIES = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
ADOBE_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
ADOBE_GAMMA = 563 / 256


def rgb_to_xyz_matrix(primaries, white=D65):
    xyz = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    scale = np.linalg.solve(xyz, white)
    return xyz * scale


def srgb_decode(v):
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055)**2.4)


def srgb_encode(v):
    v = np.clip(v, 0, 1)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v**(1 / 2.4) - 0.055)


def expected_srgb(rgb, primaries, decode):
    """Encoded sRGB of encoded ``rgb`` (N,3 in [0,1]) in a space with ``primaries`` and transfer ``decode``."""
    to_srgb = np.linalg.inv(rgb_to_xyz_matrix(SRGB_PRIMARIES)) @ rgb_to_xyz_matrix(primaries)
    return srgb_encode(decode(rgb) @ to_srgb.T)


def _s15(value):
    return struct.pack('>i', int(round(value * 65536)))


def _xyz_tag(xyz):
    return b'XYZ \0\0\0\0' + b''.join(_s15(v) for v in xyz)


def _desc_tag(text):
    ascii_text = text.encode('ascii') + b'\0'
    return (b'desc\0\0\0\0' + struct.pack('>I', len(ascii_text)) + ascii_text + b'\0' * 8 + b'\0\0\0' + b'\0' * 67)


def _srgb_curve_tag():
    params = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    return b'para\0\0\0\0' + struct.pack('>HH', 3, 0) + b''.join(_s15(p) for p in params)


def _gamma_curve_tag(gamma):
    return b'curv\0\0\0\0' + struct.pack('>IH', 1, int(round(gamma * 256)))


def make_profile(description, primaries, curve_tag):
    """ICC v2 RGB display profile bytes: matrix from ``primaries`` (D65), the same tone curve on R, G, B."""
    adapt = np.linalg.inv(BRADFORD) @ np.diag((BRADFORD @ D50) / (BRADFORD @ D65)) @ BRADFORD
    colorants = adapt @ rgb_to_xyz_matrix(primaries)
    tags = [(b'desc', _desc_tag(description)), (b'wtpt', _xyz_tag(D50)), (b'rXYZ', _xyz_tag(colorants[:, 0])),
            (b'gXYZ', _xyz_tag(colorants[:, 1])), (b'bXYZ', _xyz_tag(colorants[:, 2])), (b'rTRC', curve_tag)]
    table_size = 4 + 12 * (len(tags) + 2)
    offset, entries, blobs = 128 + table_size, [], b''
    for signature, data in tags:
        data += b'\0' * (-len(data) % 4)
        entries.append((signature, offset + len(blobs), len(data)))
        blobs += data
    curve_entry = entries[-1]
    entries += [(b'gTRC', ) + curve_entry[1:], (b'bTRC', ) + curve_entry[1:]]
    table = struct.pack('>I', len(entries)) + b''.join(s + struct.pack('>II', o, n) for s, o, n in entries)
    size = 128 + len(table) + len(blobs)
    header = (struct.pack('>I', size) + b'\0' * 4 + struct.pack('>I', 0x02100000) + b'mntrRGB XYZ ' + b'\0' * 12 +
              b'acsp' + b'\0' * 28 + _s15(D50[0]) + _s15(D50[1]) + _s15(D50[2]) + b'\0' * 48)
    assert len(header) == 128
    return header + table + blobs


def display_p3_profile():
    return make_profile('Display P3 (test)', P3_PRIMARIES, _srgb_curve_tag())


def adobe_rgb_profile():
    return make_profile('Adobe RGB (1998) (test)', ADOBE_PRIMARIES, _gamma_curve_tag(ADOBE_GAMMA))


def renamed_profile(icc, description):
    """``icc`` with its 'desc' tag replaced by ``description``: the same colour space under another name.

    The new tag is appended and the tag table entry and header size pointed at it (the old bytes stay unused).
    """
    icc = bytearray(icc)
    icc += b'\0' * (-len(icc) % 4)
    offset, tag = len(icc), _desc_tag(description)
    icc += tag + b'\0' * (-len(tag) % 4)
    for i in range(struct.unpack_from('>I', icc, 128)[0]):
        entry = 132 + 12 * i
        if icc[entry:entry + 4] == b'desc':
            struct.pack_into('>II', icc, entry + 4, offset, len(tag))
    struct.pack_into('>I', icc, 0, len(icc))
    return bytes(icc)
