/* SPDX-License-Identifier: Apache-2.0 */
/* elfcheck.c: ELF header + program header walk, every offset checked against the buffer
 * (untrusted input: a file in the host's CNI bin dir). Spec: System V gABI ch. 4 and 5. */
#include "agent/elfcheck.h"

#include <errno.h>
#include <string.h>

#include "base/errbuf.h"

#define PT_DYNAMIC 2
#define PT_INTERP 3

static uint64_t rd(const unsigned char *p, unsigned n, bool be) {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
                v |= (uint64_t)p[be ? i : n - 1 - i] << (8 * (n - 1 - i));
        return v;
}

int elfcheck_parse(const void *buf, size_t len, struct elfcheck_info *ret, char *err, size_t errsz) {
        const unsigned char *b = buf;
        struct elfcheck_info info = {};
        uint64_t phoff, phentsize, phnum;

        if (len < 16 || memcmp(b, "\x7f" "ELF", 4) != 0)
                return errbuf_set(err, errsz, -ENOEXEC, "not an ELF file");
        if (b[4] != 1 && b[4] != 2)
                return errbuf_set(err, errsz, -ENOEXEC, "bad ELF class %u", b[4]);
        if (b[5] != 1 && b[5] != 2)
                return errbuf_set(err, errsz, -ENOEXEC, "bad ELF data encoding %u", b[5]);
        info.bits = b[4] == 1 ? 32 : 64;
        info.big_endian = b[5] == 2;
        bool be = info.big_endian;
        if (len < (info.bits == 32 ? 52u : 64u))
                return errbuf_set(err, errsz, -ENOEXEC, "truncated ELF header");
        info.type = (uint16_t)rd(b + 16, 2, be);
        info.machine = (uint16_t)rd(b + 18, 2, be);
        if (info.bits == 32) {
                phoff = rd(b + 28, 4, be);
                phentsize = rd(b + 42, 2, be);
                phnum = rd(b + 44, 2, be);
        } else {
                phoff = rd(b + 32, 8, be);
                phentsize = rd(b + 54, 2, be);
                phnum = rd(b + 56, 2, be);
        }
        if (phnum == 0)
                return errbuf_set(err, errsz, -ENOEXEC, "no program headers (not an executable)");
        if (phentsize < (info.bits == 32 ? 32u : 56u))
                return errbuf_set(err, errsz, -ENOEXEC, "program header size %llu too small", (unsigned long long)phentsize);
        if (phoff > len || phnum > (len - phoff) / phentsize)
                return errbuf_set(err, errsz, -ENOEXEC, "program headers beyond the first %zu bytes", len);
        for (uint64_t i = 0; i < phnum; i++) {
                const unsigned char *ph = b + phoff + i * phentsize;
                uint32_t type = (uint32_t)rd(ph, 4, be);
                if (type == PT_DYNAMIC)
                        info.has_dynamic = true;
                if (type != PT_INTERP)
                        continue;
                info.has_interp = true;
                uint64_t off = info.bits == 32 ? rd(ph + 4, 4, be) : rd(ph + 8, 8, be);
                uint64_t sz = info.bits == 32 ? rd(ph + 16, 4, be) : rd(ph + 32, 8, be);
                if (off < len && sz <= len - off) {
                        size_t n = strnlen((const char *)b + off, (size_t)sz);
                        if (n >= sizeof info.interp)
                                n = sizeof info.interp - 1;
                        memcpy(info.interp, b + off, n);
                        info.interp[n] = 0;
                }
        }
        *ret = info;
        return 0;
}
