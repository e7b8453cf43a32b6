/* SPDX-License-Identifier: Apache-2.0 */
/* mnl.h: the part of libmnl's API that libnftnl and nftbatch use, implemented here (mnl.c).
 * Why: Debian ships no libmnl.a and its source package is not reachable from this project's
 * mirror, so a static cnibox could not link libnftnl.a; and in the dynamic build, libnftnl.so +
 * libmnl.so cost every applet ~0.4 ms of start-up (measured with hyperfine), legacy included.
 * libnftnl.a is linked in both builds against these definitions. The declarations are libmnl's
 * own header, so the signatures cannot drift. Semantics follow libmnl 1.0.4 (errno and return
 * values included), because libnftnl's parsers depend on them. */
#pragma once

#include <libmnl/libmnl.h>
