#!/usr/bin/python3
"""test_package_glibc_versions.py ARCH -- every ELF in build/function-ARCH.zip loads on provided.al2023:
no symbol version above GLIBC_2.34, nothing of GLIBC_PRIVATE, every NEEDED library bundled in
lib/ or in the AL2023 base, the bootstrap for ARCH with an RPATH of $ORIGIN/lib, and nothing
bundled that the base already has. Exits 77 (skip) when the arm64 cross toolchain is missing."""
import os
import shutil
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import lambda_package as pkg  # noqa: E402

ARCH = sys.argv.pop(1) if len(sys.argv) > 1 else "x86_64"
BIN = os.environ.get("IC_BIN", os.path.join(HERE, "..", "..", "build", "bin"))
ZIP = os.path.join(BIN, "..", "function-%s.zip" % ARCH)


class GlibcVersionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="icpackage-elf-")
        with zipfile.ZipFile(ZIP) as z:
            cls.names = z.namelist()
            z.extractall(cls.tmp.name)
            cls.modes = {zi.filename: zi.external_attr >> 16 for zi in z.infolist()}
        cls.info = {n: pkg.elf_info(os.path.join(cls.tmp.name, n)) for n in cls.names}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_layout(self):
        self.assertIn("bootstrap", self.names)
        self.assertTrue(self.modes["bootstrap"] & 0o111, "bootstrap is not executable")
        for n in self.names:
            self.assertTrue(n == "bootstrap" or (n.startswith("lib/") and ".so" in n), n)
        self.assertIn("lib/libcurl.so.4", self.names)  # dlopened for signed backups

    def test_every_elf_loads_on_al2023(self):
        bundled = {n[4:] for n in self.names if n.startswith("lib/")}
        found = []
        for n in sorted(self.names):
            self.assertEqual(self.info[n]["machine"], pkg.ELF_MACHINE[ARCH], n)
            found += pkg.problems(n, self.info[n], bundled)
        self.assertEqual(found, [], "\n".join(found))
        self.assertEqual(sorted(bundled & pkg.AL2023_BASE), [], "bundled what the base has")

    def test_bootstrap_finds_its_libraries(self):
        self.assertEqual(self.info["bootstrap"]["rpath"], "$ORIGIN/lib")

    def test_the_check_sees_a_newer_glibc(self):
        """The check itself can fail: Debian 12's libgcc_s needs _dl_find_object@GLIBC_2.35."""
        libgcc = pkg.find_library("libgcc_s.so.1", ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"])
        if libgcc is None:
            self.skipTest("no host libgcc_s.so.1")
        found = pkg.problems("libgcc_s.so.1", pkg.elf_info(libgcc), set())
        self.assertTrue(any("GLIBC_2.35" in p for p in found), found)
        fake = {"versions": {("libc.so.6", "GLIBC_PRIVATE")}, "needed": ["libfoo.so.1"]}
        self.assertEqual(len(pkg.problems("x", fake, set())), 2)


if __name__ == "__main__":
    if ARCH == "arm64" and not shutil.which("aarch64-linux-gnu-gcc"):
        print("SKIP: no arm64 cross toolchain (gcc-aarch64-linux-gnu), so no arm64 zip")
        sys.exit(77)
    if not os.path.exists(ZIP):
        sys.exit("no %s: the package_build_%s fixture (scripts/package.sh) makes it" % (ZIP, ARCH))
    unittest.main(verbosity=2)
