/* The static file tree, loaded from a real temporary directory: what is
 * served (regular files, their index.html) and what never is (dotfiles,
 * symlinks, files past the size or depth bound), content types, validators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/static_files.h"

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    /* make every parent folder */
    for (char *s = strchr(path + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(root, sizeof(root), "/tmp/cafe-static-XXXXXX");
    assert_non_null(mkdtemp(root));
    put("index.html", "<!doctype html><title>home</title>");
    put("js/app.js", "export const x = 1;\n");
    put("css/site.CSS", "body{}");
    put("docs/index.html", "<title>docs</title>");
    put("blob.bin", "\x01\x02");
    put(".env", "SECRET=1");
    put(".git/config", "[core]");
    put("js/.hidden.js", "no");
    char deep[256] = "";
    for (int i = 0; i < 18; i++)
        strcat(deep, "d/");
    strcat(deep, "deep.txt");
    put(deep, "too deep");
    char link[512], target[512];
    snprintf(link, sizeof(link), "%s/passwd.txt", root);
    snprintf(target, sizeof(target), "/etc/passwd");
    assert_int_equal(symlink(target, link), 0);
    /* Past the size bound, without writing 32 MiB: a sparse file. */
    char big[512];
    snprintf(big, sizeof(big), "%s/big.bin", root);
    FILE *f = fopen(big, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 33 * 1024 * 1024), 0);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void serves_regular_files_and_their_index(void **state)
{
    struct static_files *sf = static_files_load(root);
    assert_non_null(sf);
    const struct static_file *f = static_files_find(sf, "/js/app.js");
    assert_non_null(f);
    assert_int_equal(f->len, strlen("export const x = 1;\n"));
    assert_memory_equal(f->data, "export const x = 1;\n", f->len);
    assert_string_equal(f->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(static_files_find(sf, "/")->path, "/index.html");
    assert_string_equal(static_files_find(sf, "/docs")->path, "/docs/index.html");
    assert_string_equal(static_files_find(sf, "/docs/")->path, "/docs/index.html");
    assert_null(static_files_find(sf, "/js/"));    /* a folder without an index */
    assert_null(static_files_find(sf, "/js/app")); /* no guessing of extensions */
    assert_null(static_files_find(sf, ""));
    /* index.html, js/app.js, css/site.CSS, docs/index.html, blob.bin */
    assert_int_equal(static_files_count(sf), 5);
    static_files_free(sf);
}

static void never_serves_dotfiles_links_or_oversized(void **state)
{
    struct static_files *sf = static_files_load(root);
    assert_non_null(sf);
    assert_null(static_files_find(sf, "/.env"));
    assert_null(static_files_find(sf, "/.git/config"));
    assert_null(static_files_find(sf, "/js/.hidden.js"));
    assert_null(static_files_find(sf, "/passwd.txt")); /* a symlink out of the tree */
    assert_null(static_files_find(sf, "/big.bin"));
    char deep[256] = "";
    for (int i = 0; i < 18; i++)
        strcat(deep, "/d");
    strcat(deep, "/deep.txt");
    assert_null(static_files_find(sf, deep));
    static_files_free(sf);
}

static void validators_change_with_the_content(void **state)
{
    struct static_files *sf = static_files_load(root);
    const struct static_file *a = static_files_find(sf, "/index.html");
    const struct static_file *b = static_files_find(sf, "/docs/index.html");
    assert_int_equal(strlen(a->etag), 18); /* a quoted 64-bit hash */
    assert_int_equal(a->etag[0], '"');
    assert_string_not_equal(a->etag, b->etag);
    assert_non_null(strstr(a->last_modified, " GMT"));
    static_files_free(sf);
}

static void content_types_by_extension(void **state)
{
    assert_string_equal(content_type_for("/a/b.html"), "text/html; charset=utf-8");
    assert_string_equal(content_type_for("/site.CSS"), "text/css; charset=utf-8");
    assert_string_equal(content_type_for("/x.mjs"), "text/javascript; charset=utf-8");
    assert_string_equal(content_type_for("/x.json"), "application/json");
    assert_string_equal(content_type_for("/x.svg"), "image/svg+xml");
    assert_string_equal(content_type_for("/x.woff2"), "font/woff2");
    assert_string_equal(content_type_for("/x.bin"), "application/octet-stream");
    assert_string_equal(content_type_for("/noext"), "application/octet-stream");
    assert_string_equal(content_type_for("/v1.2/readme"), "application/octet-stream");
}

static void a_missing_folder_is_an_error(void **state)
{
    assert_null(static_files_load("/nonexistent/static"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serves_regular_files_and_their_index),
        cmocka_unit_test(never_serves_dotfiles_links_or_oversized),
        cmocka_unit_test(validators_change_with_the_content),
        cmocka_unit_test(content_types_by_extension),
        cmocka_unit_test(a_missing_folder_is_an_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
