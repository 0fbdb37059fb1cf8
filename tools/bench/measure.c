/*
 * tools/bench/measure.c — runs one command and reports its wall time, CPU
 * time and peak resident set size, measured by the kernel (wait4's rusage
 * of the child), so the benchmark scripts compare kiln and the LLVM tools
 * the same way without depending on GNU time being installed.
 *
 * Usage: measure [-o FILE] -- COMMAND [ARGS...]
 * Prints (to FILE, or stderr) one line:
 *   wall_s=<seconds> user_s=<seconds> sys_s=<seconds> maxrss_kb=<KiB> status=<exit code>
 * and exits with the command's exit status (128+signal when it was killed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
  const char *report = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      report = argv[++i];
    } else if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else {
      fprintf(stderr, "usage: measure [-o FILE] -- COMMAND [ARGS...]\n");
      return 2;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "measure: no command given\n");
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "measure: fork: %s\n", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    execvp(argv[i], argv + i);
    fprintf(stderr, "measure: %s: %s\n", argv[i], strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "measure: wait4: %s\n", strerror(errno));
      return 2;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE *out = stderr;
  if (report != NULL && (out = fopen(report, "w")) == NULL) {
    fprintf(stderr, "measure: %s: %s\n", report, strerror(errno));
    return 2;
  }
  fprintf(out, "wall_s=%.3f user_s=%.3f sys_s=%.3f maxrss_kb=%ld status=%d\n", wall,
          seconds(ru.ru_utime), seconds(ru.ru_stime), ru.ru_maxrss, code);
  if (out != stderr) fclose(out);
  return code;
}
