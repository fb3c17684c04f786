/* term.c: TTY detection, width, color and a throttled progress bar on
 * stderr (curl's tool_cb_prg.c / terminal.c, in about a hundred lines). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

static int color_mode; /* 0 auto, 1 always, 2 never */
static int progress_off;
static double last_draw;
static int drawn;

void term_set_color_mode(int mode) { color_mode = mode; }

int term_color(FILE *f)
{
  if (color_mode == 1)
    return 1;
  if (color_mode == 2)
    return 0;
  const char *nc = getenv("NO_COLOR");
  if (nc && nc[0])
    return 0;
  const char *t = getenv("TERM");
  if (t && !strcmp(t, "dumb"))
    return 0;
  return isatty(fileno(f));
}

void term_disable_progress(void) { progress_off = 1; }

int term_progress_enabled(void)
{
  if (progress_off || !isatty(STDERR_FILENO))
    return 0;
  const char *t = getenv("TERM");
  return !(t && !strcmp(t, "dumb"));
}

int term_width(void)
{
  const char *c = getenv("COLUMNS");
  if (c) {
    int w = atoi(c);
    if (w > 10 && w < 1000)
      return w;
  }
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
    return ws.ws_col;
  return 79;
}

void term_progress(const char *label, size_t done, size_t total)
{
  if (!term_progress_enabled() || total == 0)
    return;
  double now = pl_now_us();
  if (drawn && done < total && now - last_draw < 100000.0)
    return; /* about 10 redraws per second */
  last_draw = now;
  drawn = 1;
  int w = term_width() - (int)strlen(label) - 20;
  if (w < 10)
    w = 10;
  if (w > 60)
    w = 60;
  int fill = (int)((double)w * (double)done / (double)total);
  char bar[64];
  for (int i = 0; i < w; i++)
    bar[i] = i < fill ? '#' : '-';
  bar[w] = 0;
  fprintf(stderr, "\r%s [%s] %3d%% ", label, bar,
          (int)(100.0 * (double)done / (double)total));
  fflush(stderr);
}

void term_progress_end(void)
{
  if (drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
  }
  drawn = 0;
}
