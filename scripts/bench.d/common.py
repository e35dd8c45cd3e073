"""Helpers for the benchmarks in this folder: free ports, the simulator, HTTP, peak RSS."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "sightline")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=600):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def post(url, body=b""):
    req = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read().decode()


def start_simulator(*args):
    """Starts `sightline simulate` on a free port; returns (process, url, seconds to answer)."""
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([BIN, "simulate", "--listen", f"127.0.0.1:{port}", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(6000):
        try:
            get(url + "/_sim/faults", timeout=5)
            return proc, url, time.monotonic() - started
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"the simulator exited with {proc.returncode}")
            time.sleep(0.1)
    sys.exit("the simulator did not answer")


def peak_rss_mib(pid):
    """VmHWM of a running process, in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB"


def dumps(x):
    return json.dumps(x, indent=1)
