/*
 * bench_cli.c: end-to-end speed of the command-line tool, start-up included:
 * runs
 *
 *   pipelab simulate --schedule 1f1b --stages P --microbatches M --format json
 *
 * (stdout to /dev/null) several times as a child process pinned to one CPU,
 * and prints the best and median wall time, the user and system CPU time of
 * the best run, and ops per second (2 P M ops: one F and one BW per stage
 * and microbatch) by the best wall time. Target (docs/performance.md):
 * P = 64, M = 32,768 (4.2 M ops) in at most 0.15 s.
 *
 * usage: bench_cli [runs [P [M [path/to/pipelab]]]]   (defaults 7 64 32768,
 *        the pipelab built next to this benchmark)
 * Not a test: timings depend on the machine and its load.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PL_CLI_PATH
#define PL_CLI_PATH "pipelab"
#endif

struct run {
  double wall, user, sys;
  long max_rss_kb;
};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double tv_s(struct timeval tv)
{
  return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

/* One run of argv[0] with argv, pinned to cpu; 0 or -1. */
static int run_once(char *const argv[], int cpu, struct run *out)
{
  double t0 = now_s();
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0)
      dup2(fd, 1);
    execv(argv[0], argv);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) != pid)
    return -1;
  out->wall = now_s() - t0;
  out->user = tv_s(ru.ru_utime);
  out->sys = tv_s(ru.ru_stime);
  out->max_rss_kb = ru.ru_maxrss;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int cmp_wall(const void *a, const void *b)
{
  double x = ((const struct run *)a)->wall, y = ((const struct run *)b)->wall;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  int runs = argc > 1 ? atoi(argv[1]) : 7;
  int p = argc > 2 ? atoi(argv[2]) : 64;
  int m = argc > 3 ? atoi(argv[3]) : 32768;
  const char *path = argc > 4 ? argv[4] : PL_CLI_PATH;
  if (runs < 1 || runs > 1000 || p < 1 || m < 1) {
    fprintf(stderr, "usage: bench_cli [runs [P [M [pipelab]]]]\n");
    return 2;
  }
  char ps[16], ms[16];
  snprintf(ps, sizeof ps, "%d", p);
  snprintf(ms, sizeof ms, "%d", m);
  char *args[] = {(char *)path, "simulate", "--schedule", "1f1b",
                  "--stages", ps, "--microbatches", ms, "--format", "json",
                  NULL};
  /* The first CPU this process may run on. */
  cpu_set_t set;
  int cpu = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set); cpu++)
      ;
  struct run warm, *r = calloc((size_t)runs, sizeof *r);
  if (!r)
    return 1;
  if (run_once(args, cpu, &warm)) { /* warm-up: page cache, loader */
    fprintf(stderr, "bench_cli: '%s simulate ...' failed\n", path);
    free(r);
    return 1;
  }
  for (int i = 0; i < runs; i++)
    if (run_once(args, cpu, &r[i])) {
      fprintf(stderr, "bench_cli: run %d failed\n", i + 1);
      free(r);
      return 1;
    }
  qsort(r, (size_t)runs, sizeof *r, cmp_wall);
  double best_user = r[0].user;
  for (int i = 1; i < runs; i++)
    if (r[i].user < best_user)
      best_user = r[i].user;
  double ops = 2.0 * p * m;
  printf("pipelab simulate --schedule 1f1b --stages %d --microbatches %d "
         "--format json > /dev/null\n", p, m);
  printf("ops %.0f, runs %d (after one warm-up), pinned to cpu %d\n", ops,
         runs, cpu);
  printf("wall best %.3f s, median %.3f s; best run: user %.3f s, sys %.3f "
         "s, max RSS %.1f MiB\n", r[0].wall, r[runs / 2].wall, r[0].user,
         r[0].sys, r[0].max_rss_kb / 1024.0);
  printf("least user CPU of any run %.3f s\n", best_user);
  printf("ops/s by best wall %.2f M; by its user+sys CPU %.2f M\n",
         ops / r[0].wall * 1e-6, ops / (r[0].user + r[0].sys) * 1e-6);
  printf("target <= 0.150 s wall: %s\n", r[0].wall <= 0.150 ? "met" : "missed");
  free(r);
  return 0;
}
