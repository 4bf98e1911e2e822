"""Reads TensorBoard event files as TensorBoard does, strictly, for the tests.

TFRecord framing: uint64 length, masked CRC32C of the length, the record, masked CRC32C of the
record (little-endian). Both CRCs of every record are checked with python3-crc32c, the file must end
on a record boundary, and every record must parse as an Event (module generated from tb_event.proto
with protoc at import time: the published field numbers, no TensorFlow needed).
"""
import glob
import os
import struct
import subprocess
import sys
import tempfile

import crc32c
import numpy

_HERE = os.path.dirname(os.path.abspath(__file__))
_GEN = tempfile.mkdtemp(prefix='snnfit-tbproto-')
subprocess.run(['protoc', '--python_out=' + _GEN, '-I' + _HERE, os.path.join(_HERE, 'tb_event.proto')],
               check=True)
sys.path.insert(0, _GEN)
import tb_event_pb2 as pb  # noqa: E402  (generated just above)


def masked(c):
    return (((c >> 15) | (c << 17)) + 0xa282ead8) & 0xffffffff


def read_file(path):
    """The Events of one file, in order; raises AssertionError on any framing or CRC fault."""
    data = open(path, 'rb').read()
    events, off = [], 0
    while off < len(data):
        assert off + 12 <= len(data), f'{path}: truncated record header at byte {off}'
        (n,) = struct.unpack_from('<Q', data, off)
        (lc,) = struct.unpack_from('<I', data, off + 8)
        assert lc == masked(crc32c.crc32c(data[off:off + 8])), f'{path}: bad length CRC at byte {off}'
        assert off + 16 + n <= len(data), f'{path}: truncated record at byte {off}'
        rec = data[off + 12:off + 12 + n]
        (dc,) = struct.unpack_from('<I', data, off + 12 + n)
        assert dc == masked(crc32c.crc32c(rec)), f'{path}: bad data CRC at byte {off}'
        ev = pb.Event()
        ev.ParseFromString(rec)
        # a strict check that nothing was left unparsed: re-encoding gives the same bytes
        assert ev.SerializeToString() == rec, f'{path}: record at byte {off} has fields outside the schema'
        events.append(ev)
        off += 16 + n
    return events


def event_files(folder):
    """Event files of a folder in TensorBoard's order (by name: wall time first)."""
    files = sorted(glob.glob(os.path.join(folder, 'events.out.tfevents.*')))
    assert files, f'{folder}: no events.out.tfevents.* file'
    return files


def check_file_header(path, events):
    assert events, f'{path}: empty event file'
    assert events[0].WhichOneof('what') == 'file_version', f'{path}: first event is not file_version'
    assert events[0].file_version == 'brain.Event:2', f'{path}: file_version {events[0].file_version!r}'


def f32(x):
    """x rounded to float32 as C's (float) cast does (numpy: struct.pack refuses values beyond
    float32's range instead of rounding them to infinity), as a Python float."""
    with numpy.errstate(over='ignore'):
        return float(numpy.float32(x))


def same_f32(stored, expected):
    """stored (a float32 widened by protobuf) is bit for bit float32(expected); NaN matches NaN."""
    e = f32(expected)
    if stored != stored or e != e:
        return stored != stored and e != e
    return numpy.float32(stored).tobytes() == numpy.float32(e).tobytes()


def text_of(value):
    """(text, problem) of a text-plugin Summary.Value."""
    if value.WhichOneof('value') != 'tensor':
        return None, 'not a tensor value'
    if value.metadata.plugin_data.plugin_name != 'text':
        return None, f'plugin_name {value.metadata.plugin_data.plugin_name!r}'
    t = value.tensor
    if t.dtype != pb.DT_STRING:
        return None, f'dtype {t.dtype}'
    if len(t.tensor_shape.dim) != 0 or len(t.string_val) != 1:
        return None, f'shape {[d.size for d in t.tensor_shape.dim]} with {len(t.string_val)} strings'
    return t.string_val[0].decode('utf-8'), None


def fenced(text):
    """What snn_tb_text_file stores for a file's text."""
    longest, run = 0, 0
    for c in text:
        run = run + 1 if c == '`' else 0
        longest = max(longest, run)
    fence = '`' * (longest + 1 if longest >= 3 else 3)
    body = text if text.endswith('\n') or not text else text + '\n'
    return fence + '\n' + body + fence + '\n'
