#include "core/fsutil.h"

#include <dirent.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

int snn_mkdirs(const char *path, snn_error *err) {
    char buf[SNN_PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return snn_fail(err, SNN_EINPUT, "%s: path too long or empty", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return snn_fail(err, SNN_ERUN, "%s: cannot create directory: %s", buf, strerror(errno));
            if (!snn_is_dir(buf)) return snn_fail(err, SNN_EINPUT, "%s: exists and is not a directory", buf);
            buf[i] = c;
        }
    }
    return SNN_OK;
}

int snn_path_exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

int snn_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int snn_path_join(char *out, size_t n, const char *a, const char *b, snn_error *err) {
    size_t la = strlen(a);
    int need_slash = la > 0 && a[la - 1] != '/';
    int w = snprintf(out, n, "%s%s%s", a, need_slash ? "/" : "", b);
    if (w < 0 || (size_t)w >= n) return snn_fail(err, SNN_EINPUT, "%s/%s: path too long", a, b);
    return SNN_OK;
}

void snn_tmp_name(const char *final_path, char *out, size_t n) {
    const char *slash = strrchr(final_path, '/');
    if (slash)
        snprintf(out, n, "%.*s/.%s.tmp.%ld", (int)(slash - final_path), final_path, slash + 1, (long)getpid());
    else
        snprintf(out, n, ".%s.tmp.%ld", final_path, (long)getpid());
}

int snn_atomic_open(snn_atomic_file *af, const char *final_path, snn_error *err) {
    memset(af, 0, sizeof *af);
    if (strlen(final_path) >= sizeof af->final_path - 32)
        return snn_fail(err, SNN_EINPUT, "%s: path too long", final_path);
    strcpy(af->final_path, final_path);
    snn_tmp_name(final_path, af->tmp, sizeof af->tmp);
    af->fp = fopen(af->tmp, "wb");
    if (af->fp == NULL) return snn_fail(err, SNN_ERUN, "%s: cannot open for writing: %s", final_path, strerror(errno));
    return SNN_OK;
}

static int commit(snn_atomic_file *af, int durable, snn_error *err) {
    int bad = ferror(af->fp);
    if (fflush(af->fp) != 0) bad = 1;
    if (!bad && durable && fsync(fileno(af->fp)) != 0) bad = 1;
    int saved = errno;
    if (fclose(af->fp) != 0) bad = 1;
    af->fp = NULL;
    if (bad) {
        unlink(af->tmp);
        return snn_fail(err, SNN_ERUN, "%s: write failed (disk full?): %s", af->final_path,
                        strerror(saved ? saved : EIO));
    }
    if (rename(af->tmp, af->final_path) != 0) {
        saved = errno;
        unlink(af->tmp);
        return snn_fail(err, SNN_ERUN, "%s: cannot rename into place: %s", af->final_path, strerror(saved));
    }
    return SNN_OK;
}

int snn_atomic_commit(snn_atomic_file *af, snn_error *err) { return commit(af, 1, err); }

void snn_atomic_abort(snn_atomic_file *af) {
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    if (af->tmp[0]) unlink(af->tmp);
}

static int write_whole(const char *path, const void *data, size_t len, int durable, snn_error *err) {
    snn_atomic_file af;
    int rc = snn_atomic_open(&af, path, err);
    if (rc) return rc;
    if (len && fwrite(data, 1, len, af.fp) != len) {
        snn_atomic_abort(&af);
        return snn_fail(err, SNN_ERUN, "%s: write failed (disk full?)", path);
    }
    return commit(&af, durable, err);
}

int snn_write_file_atomic(const char *path, const void *data, size_t len, snn_error *err) {
    return write_whole(path, data, len, 1, err);
}

int snn_write_file_direct(const char *path, const void *data, size_t len, snn_error *err) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return snn_fail(err, SNN_ERUN, "%s: cannot open for writing: %s", path, strerror(errno));
    int bad = len && fwrite(data, 1, len, f) != len;
    if (fclose(f) != 0) bad = 1;
    if (bad) {
        unlink(path);
        return snn_fail(err, SNN_ERUN, "%s: write failed (disk full?)", path);
    }
    return SNN_OK;
}

/* Opens path for reading only if it is a regular file: O_NONBLOCK keeps the open itself from waiting
 * for a writer when path is a FIFO. Returns the descriptor (blocking again), or -1 with err filled. */
static int open_regular(const char *path, off_t *size, snn_error *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int dir = S_ISDIR(st.st_mode);
        close(fd);
        snn_fail(err, SNN_EINPUT, "%s: not a regular file (%s)", path,
                 dir ? "a folder" : "a FIFO, socket or device");
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *size = st.st_size;
    return fd;
}

int snn_check_regular_file(const char *path, snn_error *err) {
    off_t size;
    int fd = open_regular(path, &size, err);
    if (fd < 0) return SNN_EINPUT;
    close(fd);
    return SNN_OK;
}

int snn_read_file(const char *path, char **data, size_t *len, snn_error *err) {
    *data = NULL;
    off_t size = 0;
    int fd = open_regular(path, &size, err);
    if (fd < 0) return SNN_EINPUT;
    if (size < 0 || (uint64_t)size >= SIZE_MAX) {
        close(fd);
        return snn_fail(err, SNN_EINPUT, "%s: cannot read (size %lld)", path, (long long)size);
    }
    char *buf = malloc((size_t)size + 1);
    if (buf == NULL) {
        close(fd);
        return snn_fail(err, SNN_ERUN, "out of memory: could not allocate %lld bytes to read %s", (long long)size + 1,
                        path);
    }
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t r = read(fd, buf + got, (size_t)size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            return snn_fail(err, SNN_EINPUT, "%s: read error: %s", path, r < 0 ? strerror(e) : "the file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = '\0';
    *data = buf;
    if (len) *len = (size_t)size;
    return SNN_OK;
}

int snn_copy_file(const char *src, const char *dst, snn_error *err) {
    char *data = NULL;
    size_t len = 0;
    int rc = snn_read_file(src, &data, &len, err);
    if (rc) return rc;
    rc = snn_write_file_atomic(dst, data, len, err);
    free(data);
    return rc;
}

int snn_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                char child[SNN_PATH_MAX];
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                snn_remove_tree(child);
            }
            closedir(d);
        }
        return rmdir(path);
    }
    return unlink(path);
}

int snn_replace_dir(const char *tmp_dir, const char *final_dir, snn_error *err) {
    if (snn_path_exists(final_dir)) {
        char old[SNN_PATH_MAX];
        snprintf(old, sizeof old, "%s.old.%ld", final_dir, (long)getpid());
        if (rename(final_dir, old) != 0)
            return snn_fail(err, SNN_ERUN, "%s: cannot move the old copy aside: %s", final_dir, strerror(errno));
        if (rename(tmp_dir, final_dir) != 0) {
            int saved = errno;
            rename(old, final_dir);
            return snn_fail(err, SNN_ERUN, "%s: cannot rename into place: %s", final_dir, strerror(saved));
        }
        snn_remove_tree(old);
        return SNN_OK;
    }
    if (rename(tmp_dir, final_dir) != 0)
        return snn_fail(err, SNN_ERUN, "%s: cannot rename into place: %s", final_dir, strerror(errno));
    return SNN_OK;
}
