# lambda-package.cmake -- the IC_LAMBDA_PACKAGE build: icnode as a provided.al2023 bootstrap, zipped.
# Included by the top-level CMakeLists.txt instead of the full tree; docs/PACKAGING.md says why
# each library is static or bundled.

# OpenSSL stays shared and bundled: the libcurl that a backup loads needs libssl.so.3 and
# libcrypto.so.3 anyway, so linking Debian's static archives into the bootstrap too would ship
# (and, during a backup, map) a second OpenSSL: measured, +1.8 MiB of zip for a 4.1 MiB text.
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl)

# ISA-L: icnode calls none of it (ec.c is in iccommon, but no object of the node refers to it, so
# the linker never takes it), yet iccommon compiles against its header. Debian's libisal2 is not
# Multi-Arch: same: installing the arm64 one removes the host's. So the package builds take the
# header (the same for every architecture) from the host's libisal-dev and no library at all; a
# node that started to use ISA-L would fail to link here, not ship without it.
find_path(ISAL_INCLUDE_DIR isa-l.h REQUIRED)
add_library(PkgConfig::ISAL INTERFACE IMPORTED)
target_include_directories(PkgConfig::ISAL INTERFACE ${ISAL_INCLUDE_DIR})

# Only what a library really uses becomes NEEDED (libisal comes with iccommon, icnode uses none
# of it), and the RPATH is the old-style DT_RPATH: unlike DT_RUNPATH it also serves the
# dependencies of libcurl.so.4, which icnode dlopens, and it comes before LD_LIBRARY_PATH, so
# the libraries in the zip are the ones loaded even where /lib64 has others of the same name.
add_link_options(-Wl,--as-needed -Wl,--disable-new-dtags)
set(CMAKE_BUILD_RPATH "$ORIGIN/lib")
set(CMAKE_BUILD_WITH_INSTALL_RPATH ON)
set(CMAKE_INSTALL_RPATH "$ORIGIN/lib")

add_subdirectory(src/common)
add_subdirectory(src/model)   # the node's return policy and throttle
add_subdirectory(src/node)

find_program(IC_PYTHON /usr/bin/python3 REQUIRED)
if(IC_PACKAGE_ZIP STREQUAL "")
  message(FATAL_ERROR "IC_LAMBDA_PACKAGE needs -DIC_PACKAGE_ZIP=path/function-ARCH.zip")
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(IC_PACKAGE_ARCH arm64)
else()
  set(IC_PACKAGE_ARCH x86_64)
endif()
# Where the libraries of this architecture live on Debian: multiarch first, then the cross
# toolchain's own glibc (/usr/aarch64-linux-gnu/lib), which the base image provides anyway.
set(IC_PACKAGE_LIBDIRS /lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
if(CMAKE_CROSSCOMPILING)
  list(APPEND IC_PACKAGE_LIBDIRS /usr/${CMAKE_LIBRARY_ARCHITECTURE}/lib)
endif()
string(REPLACE ";" ":" libdirs "${IC_PACKAGE_LIBDIRS}")
add_custom_command(
  OUTPUT ${IC_PACKAGE_ZIP}
  COMMAND ${IC_PYTHON} ${CMAKE_SOURCE_DIR}/scripts/lambda_package.py
          --arch ${IC_PACKAGE_ARCH} --bootstrap $<TARGET_FILE:icnode> --strip ${CMAKE_STRIP}
          --libdirs ${libdirs} --out ${IC_PACKAGE_ZIP}
  DEPENDS icnode ${CMAKE_SOURCE_DIR}/scripts/lambda_package.py
  COMMENT "Packaging ${IC_PACKAGE_ZIP}"
  VERBATIM)
add_custom_target(lambda_zip ALL DEPENDS ${IC_PACKAGE_ZIP})
