/* SPDX-License-Identifier: Apache-2.0 */
/* elfcheck.h: is an executable static? From its ELF header and program headers only: the CNI
 * plugin runs on the host, whose loader and libraries are not the image's, so a binary with a
 * PT_INTERP (a dynamic loader) may not start there (minimal node OSes, a newer glibc).
 * Spec: System V ABI, ELF header and program header table (ELF32 / ELF64, either byte order). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfcheck_info {
        unsigned bits;        /* 32 or 64 */
        bool big_endian;
        uint16_t type;        /* ET_EXEC 2, ET_DYN 3 */
        uint16_t machine;     /* EM_X86_64 62, EM_AARCH64 183, ... */
        bool has_interp;      /* PT_INTERP: needs a dynamic loader */
        bool has_dynamic;     /* PT_DYNAMIC: dynamic section (static-pie has one, without PT_INTERP) */
        char interp[256];     /* the loader path, when has_interp and it lies inside the buffer */
};

/* Parses the first len bytes of a file (the program headers must lie within them: read 64 KiB).
 * 0, or -ENOEXEC with err naming what is wrong ("not an ELF file", "program headers beyond ..."). */
int elfcheck_parse(const void *buf, size_t len, struct elfcheck_info *ret, char *err, size_t errsz);

/* Static: no PT_INTERP (a static-pie's PT_DYNAMIC is fine: it relocates itself). */
static inline bool elfcheck_is_static(const struct elfcheck_info *i) { return !i->has_interp; }
