# toolchain-aarch64.cmake -- cross-compiling for arm64 (Graviton) with Debian's cross gcc and the
# arm64 multiarch libraries (dpkg --add-architecture arm64; scripts/install-deps.sh).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_STRIP aarch64-linux-gnu-strip CACHE FILEPATH "")
# Debian puts the arm64 libraries beside the host's, in /usr/lib/aarch64-linux-gnu; CMake searches
# there by its library architecture, which it detects from the compiler. pkg-config must look
# there only, or it would hand out the host's flags.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
# Programs (python3, the host's tools) run on the build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
