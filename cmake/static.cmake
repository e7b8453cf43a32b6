# SPDX-License-Identifier: Apache-2.0
# static.cmake: -DCNIBOX_STATIC=ON, a fully static cnibox (no NEEDED, nothing dlopen()ed).
# docs/building.md says how and why. Included by CMakeLists.txt after the targets exist: it
# re-points the imported pkg-config targets at static archives and links OpenSSL directly.
#
# libnftnl.a and libyaml.a are linked in both builds (CMakeLists.txt), so nothing here.
# glibc: libc.a (libc6-dev). OpenSSL, cJSON and libiptc: tools/static-deps.sh builds them from
# Debian's pinned, checksum-verified source packages into a cache (CNIBOX_DEPS_PREFIX, or run on
# configure): Debian ships no .a of cJSON and libiptc, and its libssl.a/libcrypto.a carry every
# algorithm and protocol (3.9 of a 5.6 MB binary); ours is configured for what httpc.c uses.

set(CNIBOX_DEPS_PREFIX "" CACHE PATH "Prefix of tools/static-deps.sh's archives (empty: run it)")
if(NOT CNIBOX_DEPS_PREFIX)
  execute_process(COMMAND bash ${CMAKE_SOURCE_DIR}/tools/static-deps.sh
                  OUTPUT_VARIABLE deps_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE deps_rc)
  if(NOT deps_rc EQUAL 0)
    message(FATAL_ERROR "tools/static-deps.sh failed (${deps_rc}); see its output above")
  endif()
  set(CNIBOX_DEPS_PREFIX "${deps_prefix}" CACHE PATH "" FORCE)
endif()
message(STATUS "static build: archives from ${CNIBOX_DEPS_PREFIX}")

# The deps' archives by path, not find_library(): a cached result would outlive a new prefix.
foreach(a ip4tc ip6tc cjson ssl crypto)
  string(TOUPPER ${a} A)
  set(CNIBOX_A_${A} ${CNIBOX_DEPS_PREFIX}/lib/lib${a}.a)
  if(NOT EXISTS ${CNIBOX_A_${A}})
    message(FATAL_ERROR "static build: ${CNIBOX_A_${A}} missing (re-run tools/static-deps.sh)")
  endif()
endforeach()

# Same target names as the dynamic build, so the shared target_link_libraries lines stay as
# they are. Headers come from the same source packages the archives were built from.
set_target_properties(PkgConfig::IPTC PROPERTIES
  INTERFACE_LINK_LIBRARIES "${CNIBOX_A_IP4TC};${CNIBOX_A_IP6TC}"
  INTERFACE_INCLUDE_DIRECTORIES "${CNIBOX_DEPS_PREFIX}/include")
set_target_properties(PkgConfig::CJSON PROPERTIES
  INTERFACE_LINK_LIBRARIES "${CNIBOX_A_CJSON}"
  INTERFACE_INCLUDE_DIRECTORIES "${CNIBOX_DEPS_PREFIX}/include")
# Nothing in lib/ calls libxtables (libiptc's headers need only its include files).
set_target_properties(PkgConfig::XTABLES PROPERTIES INTERFACE_LINK_LIBRARIES "")

# httpc.c links OpenSSL instead of dlopen()ing it. (nftapply.c, the tests' libnftables oracle, is
# not in cniboxlib: it lives in cniboxtest, which only the dynamic test executables link.)
target_compile_definitions(cniboxlib PUBLIC CNIBOX_STATIC=1)
# OpenSSL's headers from the same prefix, ahead of libssl-dev's in /usr/include (which the
# dynamic build keeps using): they must match the archives' configuration (OPENSSL_NO_*).
target_include_directories(cniboxlib BEFORE PUBLIC ${CNIBOX_DEPS_PREFIX}/include)
target_link_libraries(cniboxlib PUBLIC ${CNIBOX_A_SSL} ${CNIBOX_A_CRYPTO} pthread)
target_link_options(cnibox PRIVATE -static)
# tools/static-deps.sh compiles OpenSSL with -ffunction-sections -fdata-sections: the linker then
# drops the functions of a pulled-in object that nothing calls (docs/building.md has the figures).
target_link_options(cnibox PRIVATE -Wl,--gc-sections)
# A link map, for bench/size.sh's size-by-library breakdown.
target_link_options(cnibox PRIVATE -Wl,-Map=${CMAKE_BINARY_DIR}/cnibox.map)
