#!/usr/bin/env python3
"""The service manager's end of sd_notify, for tests: binds a unix datagram socket (a path, or
an abstract name when the argument starts with "@"), prints {"bound": name} once, then one JSON
line per datagram received: {"t": CLOCK_MONOTONIC in microseconds at receipt, "msg": text,
"pid": sender pid from SCM_CREDENTIALS}. Independent of our TypeScript sender on purpose."""
import json
import os
import socket
import struct
import sys
import time

name = sys.argv[1]
addr = "\0" + name[1:] if name.startswith("@") else name
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(addr)
if not name.startswith("@"):
    os.chmod(name, 0o777)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"bound": name}), flush=True)
creds_size = struct.calcsize("3i")
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(creds_size))
    t = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("3i", payload[:creds_size])[0]
    print(json.dumps({"t": t, "msg": data.decode(), "pid": pid}), flush=True)
