/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_cniconf_merge.c: libFuzzer target for install-cni's conflist merge (lib/agent/cniconf.c,
 * lib/agent/gojson.c; spec istio-cni.md §4.5, §4.7, §4.8, §4.11). Any primary config in gives a
 * clean error or a config that reads back, holds exactly one istio-cni plugin, last, serialises
 * stably, is unchanged by a second merge, and loses that plugin again on removal; from a libcni-valid
 * input, the result is a valid conflist that the agent's check accepts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cniconf.h"
#include "agent/gojson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t istio_entries(const gojson *conf, bool *last) {
        const gojson *plugins = gojson_get(conf, "plugins");
        size_t n = 0;

        if (!plugins || plugins->type != GOJSON_ARRAY)
                abort();
        for (size_t i = 0; i < plugins->n_items; i++)
                if (gojson_is_str(gojson_get(plugins->items[i], "type"), "istio-cni"))
                        n++;
        *last = plugins->n_items > 0 &&
                gojson_is_str(gojson_get(plugins->items[plugins->n_items - 1], "type"), "istio-cni");
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char *entry;
        static const struct cniconf_entry e = { .plugin_log_level = "info", .cni_agent_run_dir = "/var/run/istio-cni",
                                                .pod_namespace = "istio-system" };
        char err[256], *merged = NULL, *removed = NULL, *again = NULL;
        gojson *v = NULL;
        bool has, last;

        if (!entry && cniconf_entry_render(&e, false, &entry) < 0)
                abort();
        /* Exact-size copy so ASan sees any read past the input. */
        char *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);

        /* The checks must not crash on anything either. */
        bool valid_list = cniconf_check_content(buf, size, true, NULL, err, sizeof err) == 1;
        bool valid_conf = cniconf_check_content(buf, size, false, NULL, err, sizeof err) == 1;
        /* Istio treats any config with a top-level "type" as a single-plugin .conf (even a
         * conflist, which the conversion then mangles: Istio's behaviour, kept). */
        bool valid = valid_list;
        if (gojson_parse(buf, size, 0, &v, err, sizeof err) == 0 && gojson_get(v, "type"))
                valid = valid_conf;
        v = gojson_free(v);
        (void) cniconf_has_istio(buf, size, true, &has, err, sizeof err);
        (void) cniconf_has_istio(buf, size, false, &has, err, sizeof err);

        err[0] = '\0';
        int r = cniconf_insert(buf, size, entry, &merged, err, sizeof err);
        if (r < 0) {
                if (merged || (r == -EINVAL && (!memchr(err, '\0', sizeof err) || !err[0])))
                        abort();
                goto out;
        }
        if (gojson_parse(merged, strlen(merged), 0, &v, err, sizeof err) < 0 || v->type != GOJSON_OBJECT)
                abort();
        if (istio_entries(v, &last) != 1 || !last)
                abort();
        /* The agent's check finds the entry in anything we write (else it would rewrite the file
         * on every pass), and a primary config the runtime accepts stays acceptable with it. */
        if (cniconf_has_istio(merged, strlen(merged), true, &has, err, sizeof err) < 0 || !has)
                abort();
        if (valid && cniconf_check_content(merged, strlen(merged), true, NULL, err, sizeof err) != 1)
                abort();
        if (gojson_format(v, GOJSON_SORT | GOJSON_INDENT | GOJSON_NEWLINE, &again, NULL) < 0 || strcmp(again, merged) != 0)
                abort();
        free(again);
        again = NULL;
        /* Merging into our own output changes nothing. */
        if (cniconf_insert(merged, strlen(merged), entry, &again, err, sizeof err) < 0 || strcmp(again, merged) != 0)
                abort();
        if (cniconf_remove(merged, strlen(merged), &removed, err, sizeof err) < 0)
                abort();
        gojson_free(v);
        v = NULL;
        if (gojson_parse(removed, strlen(removed), 0, &v, err, sizeof err) < 0 || istio_entries(v, &last) != 0)
                abort();
out:
        gojson_free(v);
        free(merged);
        free(removed);
        free(again);
        free(buf);
        return 0;
}
