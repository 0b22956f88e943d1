#!/usr/bin/env python3
"""Issue 9: memory held by partial request frames. Starts SERVER_BINARY with defaults, opens
CONNS connections that each declare a FRAME_MB frame and send SENT_MB of it, then prints the
server's RSS growth. Usage: bench/partial_frames.py SERVER_BINARY [CONNS=20] [FRAME_MB=50] [SENT_MB=50]"""
import os, socket, struct, subprocess, sys, tempfile, time

binary = sys.argv[1]
conns, frame_mb, sent_mb = (int(a) for a in (sys.argv[2:] + ["20", "50", "50"][len(sys.argv) - 2:])[:3])
port = 20000 + os.getpid() % 20000
data = tempfile.mkdtemp()
server = subprocess.Popen([binary, "server", "--listeners", f"PLAINTEXT://127.0.0.1:{port}", "--log-dirs", data],
                          stderr=open(os.path.join(data, "server.log"), "w"))
def rss_mib():
    for line in open(f"/proc/{server.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port)).close(); break
    except OSError:
        time.sleep(0.1)
before = rss_mib()
chunk = b"\0" * (1 << 20)
socks = []
for _ in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(0.5)
    s.sendall(struct.pack(">i", frame_mb << 20))
    for _ in range(sent_mb):
        try:
            s.sendall(chunk)
        except OSError:
            break  # not being read (the pool is full)
    socks.append(s)
time.sleep(1.0)
after = rss_mib()
t0 = time.time()
probe = socket.create_connection(("127.0.0.1", port))
probe.sendall(struct.pack(">ihhi", 10, 18, 0, 1) + struct.pack(">h", -1))  # ApiVersions v0
probe.settimeout(5); got = probe.recv(4)
print(f"{conns} x {sent_mb} MiB of {frame_mb} MiB frames: RSS {before} -> {after} MiB "
      f"(+{after - before} MiB); bystander ApiVersions answered={len(got) == 4} in {time.time() - t0:.3f} s")
server.kill(); server.wait()
