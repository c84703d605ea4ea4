#!/usr/bin/python3
"""test_package_run.py ARCH -- the bootstrap of build/function-ARCH.zip, unpacked alone into a
temporary directory, serves through the local platform: the pool's warm-up at start and a periodic
one, chunks that round-trip byte for byte, and a backup whose SigV4-signed self-invocation goes
through the zip's own libcurl. arm64 runs under qemu-user with the cross toolchain's glibc;
exits 77 (skip) when qemu or the cross toolchain is missing."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))
from proxytest import BIN, Proxy, nodeauth, stop_process, wait_for  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import lambda_package  # noqa: E402

ARCH = sys.argv.pop(1) if len(sys.argv) > 1 else "x86_64"
ZIP = os.path.join(BIN, "..", "function-%s.zip" % ARCH)
SYSROOT = "/usr/aarch64-linux-gnu"  # the cross toolchain's glibc: what AL2023's base gives
KEY, TOKEN = "AKIDPACKAGETEST", "session-token-of-the-role"
POOL = 3


def skip_reason():
    if ARCH == "arm64":
        if not shutil.which("aarch64-linux-gnu-gcc"):
            return "no arm64 cross toolchain (gcc-aarch64-linux-gnu), so no arm64 zip"
        if not shutil.which("qemu-aarch64"):
            return "no qemu-aarch64 (package qemu-user; scripts/install-deps.sh installs it)"
        if not os.path.exists(os.path.join(SYSROOT, "lib", "ld-linux-aarch64.so.1")):
            return "no arm64 glibc in %s (libc6-arm64-cross)" % SYSROOT
    return None


def write_handler(task_root):
    """The executable the platform runs per instance: the bootstrap with LD_LIBRARY_PATH at the
    zip's lib/ as Lambda sets it (under qemu for arm64: -E sets it for the guest only, -L makes
    the guest's /lib the cross glibc)."""
    boot = os.path.join(task_root, "bootstrap")
    lib = os.path.join(task_root, "lib")
    if ARCH == "arm64":
        cmd = 'exec qemu-aarch64 -L %s -E LD_LIBRARY_PATH=%s %s "$@"' % (SYSROOT, lib, boot)
    else:
        cmd = 'LD_LIBRARY_PATH=%s exec %s "$@"' % (lib, boot)
    path = os.path.join(task_root, "handler.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# Runs the packaged bootstrap as provided.al2023 would.\n%s\n" % cmd)
    os.chmod(path, 0o755)
    return path


def mapped_files(pid):
    """Paths of the files mapped into a process (for qemu-user, the guest's mappings too)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return {ln.split(None, 5)[5].strip() for ln in f if len(ln.split(None, 5)) == 6}
    except OSError:
        return set()


def is_shared_object(path):
    """A shared library's file (libx.so, libx.so.4), not a file that merely has ".so" inside its
    name (the loader maps /etc/ld.so.cache while it resolves a dlopen)."""
    return re.search(r"\.so(\.[0-9]+)*$", os.path.basename(path)) is not None


class PackageRunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="icpackage-%s-" % ARCH)
        self.task_root = os.path.join(self.tmp.name, "task")
        with zipfile.ZipFile(ZIP) as z:
            z.extractall(self.task_root)
            for zi in z.infolist():  # extractall drops the mode bits
                os.chmod(os.path.join(self.task_root, zi.filename), zi.external_attr >> 16 & 0o777)
        self.handler = write_handler(self.task_root)
        self.platform = None

    def tearDown(self):
        if self.platform and self.platform.poll() is None:
            stop_process(self.platform)
        if self.platform:
            self.platform.stdout.close()
            self.log.close()
        self.tmp.cleanup()

    def start_platform(self, admin_token):
        """icplatform running the handler, taking only Invoke requests signed for KEY (as AWS),
        with the role's credentials in every instance's environment."""
        env = dict(os.environ, IC_NODE_SECRET=nodeauth.SECRET, IC_NODE_RESERVED_MB="16",
                   IC_NODE_LOG_LEVEL="info", IC_PLATFORM_ADMIN_TOKEN=admin_token,
                   AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY="function-secret",
                   AWS_SESSION_TOKEN=TOKEN, AWS_REGION="us-east-1")
        self.log = open(os.path.join(self.tmp.name, "platform.log"), "w+")
        self.platform = subprocess.Popen(
            [os.path.join(BIN, "icplatform"), "--port", "0", "--handler", self.handler,
             "--function-count", str(POOL), "--memory", "256", "--log-level", "info",
             "--require-sigv4", KEY + ":" + TOKEN],
            stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.platform.stdout.readline().decode()
        self.assertTrue(line.startswith("READY port="), line)
        return "http://127.0.0.1:%d" % int(line.split("=")[1])

    def test_warmup_round_trip_and_signed_backup(self):
        import redis
        admin_token = os.urandom(16).hex()
        endpoint = self.start_platform(admin_token)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY="proxy-secret",
                   AWS_SESSION_TOKEN=TOKEN)
        try:
            with Proxy("--pool-size", str(POOL), "--d", "2", "--p", "1", "--node-memory", "256",
                       "--node-reserved", "16", "--small-object-max", "1k",
                       "--warmup-interval", "2s", "--backup-interval", "2s",
                       "--node-connect-timeout", "10s", "--request-timeout", "10s",
                       "--aws-sigv4", "aws:amz:us-east-1:lambda", "--platform-endpoint", endpoint,
                       admin_token=admin_token, env=env, harness_tls=False,
                       ready_timeout=60) as p:
                r = redis.Redis(port=p.port, socket_timeout=30)
                info = r.info("all")
                # On start every function was invoked, dialled the proxy and reported its store.
                self.assertEqual(info["inventories"], POOL, info)
                self.assertEqual(info["nodes_down"], 0, info)
                vals = {"pkg%d" % i: os.urandom(200000 + 7 * i) for i in range(4)}
                for k, v in vals.items():
                    self.assertTrue(r.set(k, v), k)
                for k, v in vals.items():
                    self.assertEqual(r.get(k), v, k)
                # A periodic warm-up, then a backup: the source invokes its own function, signed
                # by the bundled libcurl (the platform refuses anything unsigned).
                wait_for(lambda: r.info("all")["warmups"] >= 1, timeout=30,
                         what="a periodic warm-up")
                wait_for(lambda: r.info("all")["backups_ok"] >= 1, timeout=60,
                         what="a signed backup")
                # The platform's figures trail its invocations' ends.
                wait_for(lambda: r.info("all").get("platform_requests_backup", 0) >= 1,
                         timeout=20, what="the platform's count of backup invocations")
                for k, v in vals.items():
                    self.assertEqual(r.get(k), v, k)
                # Every library an instance loaded, libcurl included, is the zip's or the base's:
                # none came from this machine's own (for arm64: its multiarch) directories.
                lib = os.path.join(self.task_root, "lib")
                loaded = set()
                for inst in p.instances():
                    if inst["pid"] > 0:
                        loaded |= {m for m in mapped_files(inst["pid"]) if is_shared_object(m)}
                if ARCH == "arm64":  # qemu-user's own libraries are the host's
                    loaded = {m for m in loaded if "aarch64" in m or m.startswith(lib + "/")}
                self.assertIn(os.path.join(lib, "libcurl.so.4"), loaded)
                strays = {m for m in loaded if not m.startswith(lib + "/")
                          and os.path.basename(m) not in lambda_package.AL2023_BASE}
                self.assertEqual(strays, set())
        except Exception:
            self.log.seek(0)
            sys.stderr.write("platform log (tail):\n" + self.log.read()[-6000:])
            raise


if __name__ == "__main__":
    reason = skip_reason()
    if reason:
        print("SKIP: " + reason)
        sys.exit(77)
    if not os.path.exists(ZIP):
        sys.exit("no %s: the package_build_%s fixture (scripts/package.sh) makes it" % (ZIP, ARCH))
    unittest.main(verbosity=2)
