// An LD_PRELOAD shim that makes file writes fail the way a full disk or a
// read-only file system does, for fault-injection tests of the validator's
// persistence (tests/python/fault_disk_test.py).
//
//   CRUCIBLE_FAULT_CONTROL  a file; while it exists, faults are injected
//   CRUCIBLE_FAULT_UNDER    colon-separated paths: only calls on these paths
//                           and what lies under them fail (the control file
//                           may name others)
//   CRUCIBLE_FAULT_LOG      optional: one line per injected fault is appended
//
// The control file holds words separated by white space: the error, ENOSPC
// or EROFS; then, optionally, the kinds of call to fail (create, write,
// mkdir, rename, fsync, truncate, remove, or all) and paths (words starting
// with '/') that replace CRUCIBLE_FAULT_UNDER. Without kinds, EROFS fails
// every kind, and ENOSPC fails write and mkdir. Under ENOSPC a write is
// partial first, as on a full disk: the first write to a file descriptor
// writes half of its bytes and succeeds, later ones fail; truncating to a
// smaller size and removing files always work. The file is read again
// whenever its size, inode or modification time changes: replace it
// atomically (write another file, rename it over).
//
// Calls intercepted (kind in brackets): openat, and through it open, open64,
// openat64, their _2 fortify variants, creat and creat64; fopen, fopen64,
// mkstemp, mkstemp64, mkostemp, mkostemp64 (create: the libc's own internal
// opens are not interposable, so these are intercepted themselves); mkdtemp,
// mkdir, mkdirat (mkdir); write, pwrite, pwrite64, writev (write); rename,
// renameat, renameat2 (rename); fsync, fdatasync (fsync); ftruncate,
// ftruncate64, truncate, truncate64 (truncate); unlink, unlinkat, rmdir,
// remove (remove); close only forgets a descriptor's partial write.
// A file descriptor is mapped to its path through /proc/self/fd.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum Kind {
  kCreate = 1,
  kWrite = 2,
  kMkdir = 4,
  kRename = 8,
  kFsync = 16,
  kTruncate = 32,
  kRemove = 64
};
#define ALL_KINDS 127
#define MAX_PREFIXES 16
#define MAX_FDS 65536

struct Config {
  int error;  // 0: no fault
  int kinds;
  int prefix_count;
  char prefixes[MAX_PREFIXES][PATH_MAX];
};

static pthread_mutex_t config_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct Config config;
static struct stat config_stat;  // of the control file the config was read from
static int config_loaded;
// 1 once a descriptor had its partial write under ENOSPC: its next writes fail.
static unsigned char had_partial_write[MAX_FDS];

#define REAL(name) real_##name
#define DECLARE_REAL(ret, name, ...)                                     \
  static ret (*real_##name)(__VA_ARGS__);                                \
  static void resolve_##name(void) {                                     \
    if (!real_##name) *(void**)(&real_##name) = dlsym(RTLD_NEXT, #name); \
  }

DECLARE_REAL(int, openat, int, const char*, int, ...)
DECLARE_REAL(FILE*, fopen, const char*, const char*)
DECLARE_REAL(int, mkstemp, char*)
DECLARE_REAL(int, mkostemp, char*, int)
DECLARE_REAL(char*, mkdtemp, char*)
DECLARE_REAL(ssize_t, write, int, const void*, size_t)
DECLARE_REAL(ssize_t, pwrite, int, const void*, size_t, off_t)
DECLARE_REAL(ssize_t, pwrite64, int, const void*, size_t, off64_t)
DECLARE_REAL(ssize_t, writev, int, const struct iovec*, int)
DECLARE_REAL(int, mkdir, const char*, mode_t)
DECLARE_REAL(int, mkdirat, int, const char*, mode_t)
DECLARE_REAL(int, rename, const char*, const char*)
DECLARE_REAL(int, renameat, int, const char*, int, const char*)
DECLARE_REAL(int, renameat2, int, const char*, int, const char*, unsigned int)
DECLARE_REAL(int, fsync, int)
DECLARE_REAL(int, fdatasync, int)
DECLARE_REAL(int, ftruncate, int, off_t)
DECLARE_REAL(int, ftruncate64, int, off64_t)
DECLARE_REAL(int, truncate, const char*, off_t)
DECLARE_REAL(int, truncate64, const char*, off64_t)
DECLARE_REAL(int, unlink, const char*)
DECLARE_REAL(int, unlinkat, int, const char*, int)
DECLARE_REAL(int, rmdir, const char*)
DECLARE_REAL(int, remove, const char*)
DECLARE_REAL(int, close, int)

// Adds the paths of `list`, separated by `separator` ('\0': one path).
static void add_prefixes(struct Config* c, const char* list, char separator) {
  const char* p = list;
  while (*p && c->prefix_count < MAX_PREFIXES) {
    const char* end = separator ? strchr(p, separator) : NULL;
    size_t length = end ? (size_t)(end - p) : strlen(p);
    while (length > 1 && p[length - 1] == '/') --length;
    if (length > 0 && length < PATH_MAX) {
      memcpy(c->prefixes[c->prefix_count], p, length);
      c->prefixes[c->prefix_count][length] = '\0';
      ++c->prefix_count;
    }
    if (!end) break;
    p = end + 1;
  }
}

static int kind_of(const char* word) {
  static const struct {
    const char* name;
    int kind;
  } kinds[] = {{"create", kCreate}, {"write", kWrite}, {"mkdir", kMkdir},
               {"rename", kRename}, {"fsync", kFsync}, {"truncate", kTruncate},
               {"remove", kRemove}, {"all", ALL_KINDS}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; ++i) {
    if (strcmp(word, kinds[i].name) == 0) return kinds[i].kind;
  }
  return 0;
}

// Parses the control file's text into *c (error 0 when it names no error).
static void parse_config(char* text, struct Config* c) {
  memset(c, 0, sizeof *c);
  int paths_given = 0;
  char* rest = NULL;
  for (char* word = strtok_r(text, " \t\r\n", &rest); word;
       word = strtok_r(NULL, " \t\r\n", &rest)) {
    if (strcmp(word, "ENOSPC") == 0) {
      c->error = ENOSPC;
    } else if (strcmp(word, "EROFS") == 0) {
      c->error = EROFS;
    } else if (word[0] == '/') {
      if (!paths_given) c->prefix_count = 0;
      paths_given = 1;
      add_prefixes(c, word, '\0');
    } else {
      c->kinds |= kind_of(word);
    }
  }
  if (c->kinds == 0) c->kinds = c->error == EROFS ? ALL_KINDS : (kWrite | kMkdir);
  if (!paths_given) {
    const char* under = getenv("CRUCIBLE_FAULT_UNDER");
    if (under) add_prefixes(c, under, ':');
  }
}

// Reads the control file again when it changed; returns the kinds of call
// that fail now (0 when no fault is on).
static int fault_kinds(void) {
  const char* control = getenv("CRUCIBLE_FAULT_CONTROL");
  struct stat info = {0};
  if (!control || stat(control, &info) != 0) return 0;
  pthread_mutex_lock(&config_mutex);
  if (!config_loaded || info.st_ino != config_stat.st_ino || info.st_size != config_stat.st_size ||
      info.st_mtim.tv_sec != config_stat.st_mtim.tv_sec ||
      info.st_mtim.tv_nsec != config_stat.st_mtim.tv_nsec) {
    static char text[8192];  // guarded by config_mutex
    memset(text, 0, sizeof text);
    resolve_openat();
    resolve_close();
    const int fd = REAL(openat)(AT_FDCWD, control, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (read(fd, text, sizeof text - 1) < 0) text[0] = '\0';
      REAL(close)(fd);
    }
    parse_config(text, &config);
    config_stat = info;
    config_loaded = 1;
  }
  const int kinds = config.error ? config.kinds : 0;
  pthread_mutex_unlock(&config_mutex);
  return kinds;
}

// `path` relative to `dirfd` as an absolute path (not normalised) into out.
static int absolute(int dirfd, const char* path, char* out) {
  if (!path) return 0;
  if (path[0] == '/') {
    snprintf(out, PATH_MAX, "%s", path);
    return 1;
  }
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (!getcwd(base, sizeof base)) return 0;
  } else {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    const ssize_t n = readlink(link, base, sizeof base - 1);
    if (n < 0) return 0;
    base[n] = '\0';
  }
  return snprintf(out, PATH_MAX, "%s/%s", base, path) < PATH_MAX;
}

static int fd_path(int fd, char* out) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, out, PATH_MAX - 1);
  if (n < 0) return 0;
  out[n] = '\0';
  return 1;
}

static int is_under(const struct Config* c, const char* path) {
  for (int i = 0; i < c->prefix_count; ++i) {
    const size_t length = strlen(c->prefixes[i]);
    if (strncmp(path, c->prefixes[i], length) == 0 &&
        (path[length] == '\0' || path[length] == '/' || strcmp(c->prefixes[i], "/") == 0)) {
      return 1;
    }
  }
  return 0;
}

// The error a `kind` call on `path` (absolute) fails with now, or 0.
static int fault_at(int kind, const char* path) {
  pthread_mutex_lock(&config_mutex);
  const int error =
      config.error && (config.kinds & kind) && is_under(&config, path) ? config.error : 0;
  pthread_mutex_unlock(&config_mutex);
  return error;
}

static void log_fault(const char* call, const char* path, int error, const char* detail) {
  const char* log = getenv("CRUCIBLE_FAULT_LOG");
  if (!log) return;
  char line[PATH_MAX + 256];
  const int n = snprintf(line, sizeof line, "%s %s %s%s\n", error == ENOSPC ? "ENOSPC" : "EROFS",
                         call, path, detail ? detail : "");
  resolve_openat();
  resolve_write();
  resolve_close();
  const int saved = errno;
  const int fd = REAL(openat)(AT_FDCWD, log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    if (REAL(write)(fd, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1)) < 0) {
      // Nothing to do: the log is a test aid.
    }
    REAL(close)(fd);
  }
  errno = saved;
}

// The error to fail a `kind` call on `path` (relative to dirfd) with, or 0;
// `full` receives the absolute path. Logs nothing (see failed()) and leaves
// errno as it was.
static int path_fault(int kind, int dirfd, const char* path, char* full) {
  const int saved = errno;
  const int error =
      (fault_kinds() & kind) && absolute(dirfd, path, full) ? fault_at(kind, full) : 0;
  errno = saved;
  return error;
}

// The same for a call on an open file descriptor.
static int fd_fault(int kind, int fd, char* path) {
  const int saved = errno;
  const int error = (fault_kinds() & kind) && fd_path(fd, path) ? fault_at(kind, path) : 0;
  errno = saved;
  return error;
}

// Logs an injected fault and sets errno; returns `error`.
static int failed(int error, const char* call, const char* path) {
  if (error) {
    log_fault(call, path, error, NULL);
    errno = error;
  }
  return error;
}

// The fault of a `kind` call on a path, logged.
static int check_path(int kind, int dirfd, const char* path, const char* call) {
  char full[PATH_MAX];
  return failed(path_fault(kind, dirfd, path, full), call, full);
}

static int writes(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) != 0;
}

// A new descriptor (fd numbers are reused) has had no partial write yet.
static int opened(int fd) {
  if (fd >= 0 && fd < MAX_FDS) __atomic_store_n(&had_partial_write[fd], 0, __ATOMIC_RELAXED);
  return fd;
}

// The mode argument of an open call, read when its flags say there is one.
#define READ_MODE(flags, mode)                                                           \
  mode_t mode = 0;                                                                       \
  do {                                                                                   \
    va_list args;                                                                        \
    va_start(args, flags);                                                               \
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) mode = va_arg(args, int); \
    va_end(args);                                                                        \
  } while (0)

// The open family: refused when it would create or write a faulted file.
// Every variant goes through openat, as in the libc.
int openat(int dirfd, const char* path, int flags, ...) {
  READ_MODE(flags, mode);
  resolve_openat();
  if (writes(flags) && check_path(kCreate, dirfd, path, "open")) return -1;
  return opened(REAL(openat)(dirfd, path, flags, mode));
}

int openat64(int dirfd, const char* path, int flags, ...) {
  READ_MODE(flags, mode);
  return openat(dirfd, path, flags, mode);
}

int open(const char* path, int flags, ...) {
  READ_MODE(flags, mode);
  return openat(AT_FDCWD, path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  READ_MODE(flags, mode);
  return openat(AT_FDCWD, path, flags, mode);
}

// The fortified variants take no mode (they refuse O_CREAT without one).
int __open_2(const char* path, int flags) { return openat(AT_FDCWD, path, flags, 0); }
int __open64_2(const char* path, int flags) { return openat(AT_FDCWD, path, flags, 0); }
int __openat_2(int dirfd, const char* path, int flags) { return openat(dirfd, path, flags, 0); }
int __openat64_2(int dirfd, const char* path, int flags) { return openat(dirfd, path, flags, 0); }

int creat(const char* path, mode_t mode) {
  return openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char* path, mode_t mode) {
  return openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

static int fopen_writes(const char* mode) {
  return mode && (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+'));
}

FILE* fopen(const char* path, const char* mode) {
  resolve_fopen();
  if (fopen_writes(mode) && check_path(kCreate, AT_FDCWD, path, "fopen")) return NULL;
  FILE* file = REAL(fopen)(path, mode);
  if (file) opened(fileno(file));
  return file;
}

// The 64 variants are the same functions on a 64-bit system.
FILE* fopen64(const char* path, const char* mode) { return fopen(path, mode); }

int mkstemp(char* pattern) {
  resolve_mkstemp();
  if (check_path(kCreate, AT_FDCWD, pattern, "mkstemp")) return -1;
  return opened(REAL(mkstemp)(pattern));
}

int mkstemp64(char* pattern) { return mkstemp(pattern); }

int mkostemp(char* pattern, int flags) {
  resolve_mkostemp();
  if (check_path(kCreate, AT_FDCWD, pattern, "mkostemp")) return -1;
  return opened(REAL(mkostemp)(pattern, flags));
}

int mkostemp64(char* pattern, int flags) { return mkostemp(pattern, flags); }

char* mkdtemp(char* pattern) {
  resolve_mkdtemp();
  if (check_path(kMkdir, AT_FDCWD, pattern, "mkdtemp")) return NULL;
  return REAL(mkdtemp)(pattern);
}

// How many of `size` bytes a write on `fd` may write; -1 (errno set) when it
// fails. Under ENOSPC the first write on a descriptor writes half and succeeds.
static ssize_t allowed_bytes(int fd, size_t size, const char* call) {
  char path[PATH_MAX];
  const int error = fd_fault(kWrite, fd, path);
  if (!error) return (ssize_t)size;
  if (error == ENOSPC && size >= 2 && fd >= 0 && fd < MAX_FDS &&
      !__atomic_exchange_n(&had_partial_write[fd], 1, __ATOMIC_RELAXED)) {
    char detail[96];
    snprintf(detail, sizeof detail, " (partial: %zu of %zu bytes written)", size / 2, size);
    log_fault(call, path, error, detail);
    return (ssize_t)(size / 2);
  }
  failed(error, call, path);
  return -1;
}

ssize_t write(int fd, const void* data, size_t size) {
  resolve_write();
  const ssize_t allowed = allowed_bytes(fd, size, "write");
  return allowed < 0 ? -1 : REAL(write)(fd, data, (size_t)allowed);
}

ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) {
  resolve_pwrite();
  const ssize_t allowed = allowed_bytes(fd, size, "pwrite");
  return allowed < 0 ? -1 : REAL(pwrite)(fd, data, (size_t)allowed, offset);
}

ssize_t pwrite64(int fd, const void* data, size_t size, off64_t offset) {
  resolve_pwrite64();
  const ssize_t allowed = allowed_bytes(fd, size, "pwrite");
  return allowed < 0 ? -1 : REAL(pwrite64)(fd, data, (size_t)allowed, offset);
}

ssize_t writev(int fd, const struct iovec* parts, int count) {
  resolve_writev();
  char path[PATH_MAX];
  if (failed(fd_fault(kWrite, fd, path), "writev", path)) return -1;
  return REAL(writev)(fd, parts, count);
}

int mkdir(const char* path, mode_t mode) {
  resolve_mkdir();
  if (check_path(kMkdir, AT_FDCWD, path, "mkdir")) return -1;
  return REAL(mkdir)(path, mode);
}

int mkdirat(int dirfd, const char* path, mode_t mode) {
  resolve_mkdirat();
  if (check_path(kMkdir, dirfd, path, "mkdirat")) return -1;
  return REAL(mkdirat)(dirfd, path, mode);
}

static int rename_fault(int from_dir, const char* from, int to_dir, const char* to,
                        const char* call) {
  return check_path(kRename, from_dir, from, call) || check_path(kRename, to_dir, to, call);
}

int rename(const char* from, const char* to) {
  resolve_rename();
  if (rename_fault(AT_FDCWD, from, AT_FDCWD, to, "rename")) return -1;
  return REAL(rename)(from, to);
}

int renameat(int from_dir, const char* from, int to_dir, const char* to) {
  resolve_renameat();
  if (rename_fault(from_dir, from, to_dir, to, "renameat")) return -1;
  return REAL(renameat)(from_dir, from, to_dir, to);
}

int renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned int flags) {
  resolve_renameat2();
  if (rename_fault(from_dir, from, to_dir, to, "renameat2")) return -1;
  return REAL(renameat2)(from_dir, from, to_dir, to, flags);
}

int fsync(int fd) {
  resolve_fsync();
  char path[PATH_MAX];
  if (failed(fd_fault(kFsync, fd, path), "fsync", path)) return -1;
  return REAL(fsync)(fd);
}

int fdatasync(int fd) {
  resolve_fdatasync();
  char path[PATH_MAX];
  if (failed(fd_fault(kFsync, fd, path), "fdatasync", path)) return -1;
  return REAL(fdatasync)(fd);
}

// The fault of a truncation to `length` of the file open at `fd` (fd >= 0)
// or at `path`, logged. Under ENOSPC, a truncation that does not grow the
// file works.
static int truncate_fault(int fd, const char* path, off64_t length, const char* call) {
  char where[PATH_MAX];
  struct stat info;
  int error =
      fd >= 0 ? fd_fault(kTruncate, fd, where) : path_fault(kTruncate, AT_FDCWD, path, where);
  const int have_size = error && (fd >= 0 ? fstat(fd, &info) : stat(path, &info)) == 0;
  if (error == ENOSPC && have_size && length <= info.st_size) error = 0;
  return failed(error, call, where);
}

int ftruncate(int fd, off_t length) {
  resolve_ftruncate();
  if (truncate_fault(fd, NULL, length, "ftruncate")) return -1;
  return REAL(ftruncate)(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  resolve_ftruncate64();
  if (truncate_fault(fd, NULL, length, "ftruncate")) return -1;
  return REAL(ftruncate64)(fd, length);
}

int truncate(const char* path, off_t length) {
  resolve_truncate();
  if (truncate_fault(-1, path, length, "truncate")) return -1;
  return REAL(truncate)(path, length);
}

int truncate64(const char* path, off64_t length) {
  resolve_truncate64();
  if (truncate_fault(-1, path, length, "truncate")) return -1;
  return REAL(truncate64)(path, length);
}

// Removing files frees space: only a read-only file system refuses it.
static int remove_fault(int dirfd, const char* path, const char* call) {
  char full[PATH_MAX];
  const int error = path_fault(kRemove, dirfd, path, full);
  return failed(error == ENOSPC ? 0 : error, call, full);
}

int unlink(const char* path) {
  resolve_unlink();
  if (remove_fault(AT_FDCWD, path, "unlink")) return -1;
  return REAL(unlink)(path);
}

int unlinkat(int dirfd, const char* path, int flags) {
  resolve_unlinkat();
  if (remove_fault(dirfd, path, "unlinkat")) return -1;
  return REAL(unlinkat)(dirfd, path, flags);
}

int rmdir(const char* path) {
  resolve_rmdir();
  if (remove_fault(AT_FDCWD, path, "rmdir")) return -1;
  return REAL(rmdir)(path);
}

int remove(const char* path) {
  resolve_remove();
  if (remove_fault(AT_FDCWD, path, "remove")) return -1;
  return REAL(remove)(path);
}

int close(int fd) {
  resolve_close();
  opened(fd);  // forget a partial write: the number is free again
  return REAL(close)(fd);
}
