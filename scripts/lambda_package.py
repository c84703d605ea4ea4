#!/usr/bin/python3
"""lambda_package.py -- zips icnode as a provided.al2023 `bootstrap` with the shared libraries it
needs that Amazon Linux 2023's base image lacks, and refuses any ELF that the base's glibc (2.34)
could not load. Run by the IC_LAMBDA_PACKAGE build (cmake/lambda-package.cmake); the package
tests import the base list and the readers from here. See docs/PACKAGING.md."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

# The newest glibc symbol version the provided.al2023 runtime offers.
GLIBC_CEILING = (2, 34)

# Libraries a provided.al2023 instance has without the zip: glibc's own (its 2.34 still ships
# the compatibility sonames that 2.34 folded into libc) and GCC's runtime. Nothing else is
# relied on: the image is minimal, and its other libraries' versions are not ours to choose.
AL2023_BASE = frozenset([
    "libc.so.6", "libm.so.6", "libmvec.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1",
    "libutil.so.1", "libanl.so.1", "libresolv.so.2", "libBrokenLocale.so.1", "libthread_db.so.1",
    "libc_malloc_debug.so.0", "libnss_files.so.2", "libnss_dns.so.2",
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libgcc_s.so.1",
])

# Loaded by icnode with dlopen() (src/node/invoke_curl.c), so no NEEDED entry names it: the
# packager starts the closure from these too.
DLOPENED = ["libcurl.so.4"]

ELF_MACHINE = {"x86_64": "Advanced Micro Devices X86-64", "arm64": "AArch64"}


def elf_info(path):
    """Reads one ELF with binutils' readelf (which reads every architecture). Returns a dict:
    machine, needed (sonames), rpath, runpath, soname, and versions: {(file, version name)} of
    every symbol version it needs (.gnu.version_r)."""
    out = subprocess.run(["readelf", "-h", "-d", "-V", "-W", path], check=True,
                         capture_output=True, text=True).stdout
    info = {"machine": None, "needed": [], "rpath": None, "runpath": None, "soname": None,
            "versions": set()}
    in_needs = False
    current_file = None
    for line in out.splitlines():
        m = re.match(r"\s*Machine:\s+(.*)$", line)
        if m:
            info["machine"] = m.group(1).strip()
        m = re.search(r"\((NEEDED|RPATH|RUNPATH|SONAME)\)\s+\S.*?\[(.*)\]", line)
        if m:
            kind, value = m.group(1), m.group(2)
            if kind == "NEEDED":
                info["needed"].append(value)
            else:
                info[kind.lower()] = value
        if line.startswith("Version needs section"):
            in_needs = True
            continue
        if in_needs:
            if line.startswith("Version ") or (line and not line[0].isspace()):
                in_needs = line.startswith("Version needs section")
                continue
            m = re.search(r"File:\s+(\S+)", line)
            if m:
                current_file = m.group(1)
            m = re.search(r"Name:\s+(\S+)", line)
            if m and current_file:
                info["versions"].add((current_file, m.group(1)))
    return info


def glibc_version(name):
    """(2, 35) for "GLIBC_2.35"; None for any other version name (GCC_*, OPENSSL_*, ...)."""
    m = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def problems(name, info, bundled):
    """What keeps one ELF (as read by elf_info) from loading on provided.al2023 with the given
    bundled sonames beside it: symbol versions above the ceiling, glibc's private interface, and
    NEEDED libraries neither bundled nor in the base. An empty list means it loads."""
    found = []
    for lib, ver in sorted(info["versions"]):
        v = glibc_version(ver)
        if ver == "GLIBC_PRIVATE":
            found.append("%s: needs %s from %s (glibc's private interface, which changes with "
                         "every glibc build)" % (name, ver, lib))
        elif v and v > GLIBC_CEILING:
            found.append("%s: needs %s from %s, above GLIBC_%d.%d" % ((name, ver, lib)
                                                                     + GLIBC_CEILING))
    for lib in info["needed"]:
        if lib not in bundled and lib not in AL2023_BASE:
            found.append("%s: needs %s, neither bundled nor in the AL2023 base" % (name, lib))
    return found


def find_library(soname, libdirs):
    for d in libdirs:
        path = os.path.join(d, soname)
        if os.path.exists(path):
            return path
    return None


def collect(bootstrap, libdirs, arch):
    """The libraries to bundle: the closure of the bootstrap's NEEDED entries and DLOPENED, less
    the base. Returns {soname: path on this machine}; raises on one it cannot find."""
    bundle = {}
    todo = list(elf_info(bootstrap)["needed"]) + DLOPENED
    while todo:
        soname = todo.pop(0)
        if soname in AL2023_BASE or soname in bundle:
            continue
        path = find_library(soname, libdirs)
        if path is None:
            raise SystemExit("lambda_package: %s not found in %s" % (soname, ":".join(libdirs)))
        info = elf_info(path)
        if info["machine"] != ELF_MACHINE[arch]:
            raise SystemExit("lambda_package: %s is for %s, not %s" % (path, info["machine"], arch))
        bundle[soname] = path
        todo.extend(info["needed"])
    return bundle


def write_zip(out, files):
    """files: [(name in the zip, path, mode)]. The same inputs give the same bytes (fixed dates,
    sorted entries), so an unchanged package is an unchanged zip."""
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, path, mode in sorted(files):
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.external_attr = (0o100000 | mode) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(zi, f.read(), compresslevel=9)
    os.replace(tmp, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", required=True, choices=sorted(ELF_MACHINE))
    ap.add_argument("--bootstrap", required=True, help="the icnode executable")
    ap.add_argument("--libdirs", required=True, help="colon-separated library directories")
    ap.add_argument("--strip", default="strip", help="strip for this architecture")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    libdirs = [d for d in a.libdirs.split(":") if d]

    with tempfile.TemporaryDirectory(prefix="lambda-package-") as tmp:
        # The bootstrap loses its debug sections (a RelWithDebInfo icnode is several MiB of them).
        bootstrap = os.path.join(tmp, "bootstrap")
        shutil.copyfile(a.bootstrap, bootstrap)
        subprocess.run([a.strip, "--strip-debug", bootstrap], check=True)
        bundle = collect(bootstrap, libdirs, a.arch)
        errors = []
        for name, path in [("bootstrap", bootstrap)] + sorted(bundle.items()):
            info = elf_info(path)
            if info["machine"] != ELF_MACHINE[a.arch]:
                errors.append("%s: built for %s" % (name, info["machine"]))
            errors += problems(name, info, bundle)
        if errors:
            raise SystemExit("lambda_package: refusing to build %s:\n  %s"
                             % (a.out, "\n  ".join(errors)))
        files = [("bootstrap", bootstrap, 0o755)]
        files += [("lib/" + so, os.path.realpath(path), 0o644) for so, path in bundle.items()]
        write_zip(a.out, files)
        unpacked = sum(os.path.getsize(p) for _, p, _ in files)

    size = os.path.getsize(a.out)
    print("%s: %.1f MiB (%d bytes; %.1f MiB unpacked): bootstrap + %d libraries in lib/"
          % (os.path.basename(a.out), size / 1048576, size, unpacked / 1048576, len(bundle)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
