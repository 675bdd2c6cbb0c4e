#include "server/static_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

#include "base/xmalloc.h"
#include "server/response.h"

#define MAX_FILES      4096
#define MAX_FILE_BYTES (32u * 1024 * 1024)

struct static_files {
    struct static_file *files;
    size_t n, cap;
};

const char *content_type_for(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (!strcasecmp(dot, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

/* FNV-1a over the bytes: a strong enough validator for files we own. */
static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211u;
    return h;
}

static int read_whole(const char *file, size_t size, char **out)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *buf = xmalloc(size ? size : 1);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

static int add_file(struct static_files *sf, const char *file, const char *url,
                    const struct stat *st)
{
    if (sf->n >= MAX_FILES || (size_t)st->st_size > MAX_FILE_BYTES) {
        log_warn("skipping %s (too many or too large static files)", file);
        return 0;
    }
    char *data;
    if (read_whole(file, (size_t)st->st_size, &data) < 0) {
        log_error("cannot read %s", file);
        return 0;
    }
    if (sf->n == sf->cap) {
        sf->cap = sf->cap ? sf->cap * 2 : 32;
        sf->files = xrealloc(sf->files, sf->cap * sizeof(*sf->files));
    }
    struct static_file *f = &sf->files[sf->n++];
    f->path = xstrdup(url);
    f->data = data;
    f->len = (size_t)st->st_size;
    f->content_type = content_type_for(url);
    f->mtime = st->st_mtime;
    snprintf(f->etag, sizeof(f->etag), "\"%016llx\"", (unsigned long long)fnv1a(data, f->len));
    struct tm tm;
    gmtime_r(&f->mtime, &tm);
    strftime(f->last_modified, sizeof(f->last_modified), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return 0;
}

static int load_dir(struct static_files *sf, const char *dir, const char *url, int depth)
{
    if (depth > 16)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') /* no dotfiles, no "." or ".." */
            continue;
        char file[4096], sub[4096];
        if (snprintf(file, sizeof(file), "%s/%s", dir, e->d_name) >= (int)sizeof(file) ||
            snprintf(sub, sizeof(sub), "%s/%s", url, e->d_name) >= (int)sizeof(sub))
            continue;
        struct stat st;
        if (lstat(file, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            load_dir(sf, file, sub, depth + 1);
        else if (S_ISREG(st.st_mode))
            add_file(sf, file, sub, &st);
    }
    closedir(d);
    return 0;
}

struct static_files *static_files_load(const char *dir)
{
    struct static_files *sf = xcalloc(1, sizeof(*sf));
    if (load_dir(sf, dir, "", 0) < 0) {
        log_error("cannot read static directory %s", dir);
        static_files_free(sf);
        return NULL;
    }
    return sf;
}

size_t static_files_count(const struct static_files *sf)
{
    return sf->n;
}

/* The file whose path is prefix + suffix. A linear scan: the dashboard is a
 * handful of files, and this is no hot path. */
static const struct static_file *lookup(const struct static_files *sf, const char *prefix,
                                        const char *suffix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < sf->n; i++)
        if (!strncmp(sf->files[i].path, prefix, n) && !strcmp(sf->files[i].path + n, suffix))
            return &sf->files[i];
    return NULL;
}

const struct static_file *static_files_find(const struct static_files *sf, const char *path)
{
    size_t len = strlen(path);
    if (len == 0)
        return NULL;
    if (path[len - 1] == '/') /* "/" -> "/index.html" */
        return lookup(sf, path, "index.html");
    const struct static_file *f = lookup(sf, path, "");
    return f ? f : lookup(sf, path, "/index.html"); /* "/docs" -> "/docs/index.html" */
}

static bool not_modified(const struct static_file *f, const struct request *req)
{
    const char *inm = request_header(req, "if-none-match");
    if (inm) /* RFC 9110 §13.1.2: a weak comparison; If-Modified-Since is then ignored */
        return strstr(inm, f->etag) != NULL || !strcmp(inm, "*");
    const char *ims = request_header(req, "if-modified-since");
    return ims && !strcmp(ims, f->last_modified);
}

void static_files_serve(const struct static_files *sf, struct request *req, const char *path)
{
    const struct static_file *f = sf ? static_files_find(sf, path) : NULL;
    if (!f) {
        response_problem(req, 404, "Not Found", "nothing is served at %s", path);
        return;
    }
    response_header(req, "ETag", "%s", f->etag);
    response_header(req, "Last-Modified", "%s", f->last_modified);
    /* Revalidate every time: cheap with the validators, never stale. */
    response_header(req, "Cache-Control", "no-cache");
    response_header(req, "X-Content-Type-Options", "nosniff");
    if (not_modified(f, req)) {
        response_send_static(req, 304, NULL, NULL, 0);
        return;
    }
    response_send_static(req, 200, f->content_type, f->data, f->len);
}

void static_files_free(struct static_files *sf)
{
    if (!sf)
        return;
    for (size_t i = 0; i < sf->n; i++) {
        free(sf->files[i].path);
        free(sf->files[i].data);
    }
    free(sf->files);
    free(sf);
}
