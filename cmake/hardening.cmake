# hardening.cmake - Debian's hardening flags on every build.
#
# The flags `dpkg-buildflags` gives a Debian package (bookworm defaults plus
# the "hardening=+all" ones a network daemon should have), set here so that
# every build gets them, not only the .deb: a stack protector on functions
# with arrays (-fstack-protector-strong, calls __stack_chk_fail), checked
# libc calls (_FORTIFY_SOURCE=2, the *_chk symbols), a position-independent
# executable (ASLR for the binary's own code), and a read-only GOT resolved
# at start (-z relro -z now: BIND_NOW). tests/integration/test_deploy_deb
# checks the packaged binary with readelf and nm.
#
# _FORTIFY_SOURCE needs optimization (glibc warns and ignores it at -O0), so
# Debug builds go without it; sanitizer builds too, since ASan replaces the
# same libc functions with its own checks.
include(CheckPIESupported)
check_pie_supported(OUTPUT_VARIABLE ARTIFACTD_PIE_MSG LANGUAGES C)
# Static module libraries are linked into a PIE: compile all as PIC/PIE.
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

add_compile_options(-fstack-protector-strong -Wformat
  -Werror=format-security)
if(NOT SANITIZE)
  add_compile_definitions(
    $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
endif()
add_link_options(-Wl,-z,relro -Wl,-z,now)
