"""Plain CDR for the messages of every control step (pure; no node, no DDS).

ROS 2 puts messages on the wire as plain CDR (XCDR1): a 4-byte encapsulation header (big or
little endian), then the fields in order, each aligned to its own size counted from the end of
that header; a string is a uint32 length (with the terminating NUL) and its bytes, a sequence a
uint32 count and its elements (no padding when it is empty). Reading odometry and joint states
straight from those bytes, and writing velocity commands, odometry and diagnostics as bytes,
skips building Python message objects: the largest cost of a control step after the solve.
Everything else goes through rclpy's (de)serialization.
"""
import struct

_LITTLE, _BIG = b'\x00\x01', b'\x00\x00'
_HEADER_LE = _LITTLE + b'\x00\x00'


class CdrError(ValueError):
    """Bytes that are not the expected message; the text says why."""


class Reader:
    """Sequential reads from one serialized message."""

    def __init__(self, buf):
        kind = bytes(buf[:2])
        if len(buf) < 4 or kind not in (_LITTLE, _BIG):
            raise CdrError('not plain CDR (encapsulation %s)' % kind.hex())
        self.buf = buf
        self.order = '<' if kind == _LITTLE else '>'
        self.pos = 4

    def _take(self, fmt, size, align):
        self.pos += -(self.pos - 4) % align
        try:
            values = struct.unpack_from(self.order + fmt, self.buf, self.pos)
        except struct.error:
            raise CdrError('message ends early (%d bytes, field at %d)'
                           % (len(self.buf), self.pos)) from None
        self.pos += size
        return values

    def uint32(self):
        return self._take('I', 4, 4)[0]

    def int32(self):
        return self._take('i', 4, 4)[0]

    def string(self):
        n = self.uint32()
        end = self.pos + n
        if n == 0 or end > len(self.buf) or self.buf[end - 1] != 0:
            raise CdrError('malformed string at %d' % (self.pos - 4))
        text = bytes(self.buf[self.pos:end - 1]).decode('utf-8', 'replace')
        self.pos = end
        return text

    def doubles(self, n):
        return self._take('%dd' % n, 8 * n, 8)

    def count(self):
        """A sequence's length, checked against what the message can hold."""
        n = self.uint32()
        if n > len(self.buf):
            raise CdrError('sequence of %d elements in a %d-byte message' % (n, len(self.buf)))
        return n

    def double_seq(self):
        n = self.count()
        return self.doubles(n) if n else ()   # an empty sequence has no padding

    def string_seq(self):
        return [self.string() for _ in range(self.count())]

    def skip_doubles(self, n):
        self.pos += -(self.pos - 4) % 8 + 8 * n
        if self.pos > len(self.buf):
            raise CdrError('message ends early (%d bytes)' % len(self.buf))


def read_odometry(buf):
    """nav_msgs/Odometry -> (stamp (sec, nanosec), frame_id, child_frame_id, position (x, y,
    z), orientation (x, y, z, w), linear twist (x, y, z), angular twist (x, y, z))."""
    r = Reader(buf)
    stamp = (r.int32(), r.uint32())
    frame, child = r.string(), r.string()
    pose = r.doubles(7)
    r.skip_doubles(36)
    twist = r.doubles(6)
    r.skip_doubles(36)   # not used, but a message cut short is malformed
    return stamp, frame, child, pose[:3], pose[3:], twist[:3], twist[3:]


def read_joint_state(buf):
    """sensor_msgs/JointState -> (stamp (sec, nanosec), frame_id, names, positions,
    velocities, efforts)."""
    r = Reader(buf)
    stamp = (r.int32(), r.uint32())
    frame = r.string()
    return (stamp, frame, r.string_seq(), r.double_seq(), r.double_seq(), r.double_seq())


class _Writer:
    """Little-endian plain CDR, appended field by field."""

    def __init__(self):
        self.out = bytearray(_HEADER_LE)

    def align(self, n):
        self.out += b'\x00' * (-(len(self.out) - 4) % n)

    def pack(self, fmt, *values, align=4):
        self.align(align)
        self.out += struct.pack('<' + fmt, *values)

    def string(self, text):
        data = text.encode() + b'\x00'
        self.pack('I', len(data))
        self.out += data


_ZEROS36 = (0.0,) * 36


def odometry(stamp, frame_id, child_frame_id, position, orientation, linear, angular):
    """nav_msgs/Odometry (covariances zero) from the same fields ``read_odometry`` returns."""
    w = _Writer()
    w.pack('iI', *stamp)
    w.string(frame_id)
    w.string(child_frame_id)
    w.pack('7d36d', *position, *orientation, *_ZEROS36, align=8)
    w.pack('6d36d', *linear, *angular, *_ZEROS36, align=8)
    return bytes(w.out)


def read_twist(buf, stamped=False):
    """geometry_msgs/Twist (or TwistStamped) -> (stamp (sec, nanosec) or None, linear (x, y,
    z), angular (x, y, z))."""
    r = Reader(buf)
    stamp = None
    if stamped:
        stamp = (r.int32(), r.uint32())
        r.string()
    values = r.doubles(6)
    return stamp, values[:3], values[3:]


def twist(linear, angular, stamp=None, frame_id=''):
    """geometry_msgs/Twist, or TwistStamped when ``stamp`` (sec, nanosec) is given."""
    w = _Writer()
    if stamp is not None:
        w.pack('iI', *stamp)
        w.string(frame_id)
    w.pack('6d', *linear, *angular, align=8)
    return bytes(w.out)


def diagnostic_array(stamp, statuses):
    """diagnostic_msgs/DiagnosticArray with ``stamp`` (sec, nanosec); ``statuses`` as (level
    0-3, name, message, hardware_id, [(key, value text), ...])."""
    w = _Writer()
    w.pack('iI', *stamp)
    w.string('')
    w.pack('I', len(statuses))
    for level, name, message, hardware_id, values in statuses:
        w.pack('B', level, align=1)
        for text in (name, message, hardware_id):
            w.string(text)
        w.pack('I', len(values))
        for key, value in values:
            w.string(key)
            w.string(value)
    return bytes(w.out)
