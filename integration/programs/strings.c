/* String processing: word counting, in-place reversal, a Caesar cipher,
 * tokenizing with strtok_r and run-length encoding. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const text =
    "the quick brown fox jumps over the lazy dog while the cat sleeps "
    "and the dog dreams of the fox";

static int count_words(const char *s) {
  int n = 0, in = 0;
  for (; *s; s++) {
    if (isspace((unsigned char)*s)) in = 0;
    else if (!in) in = 1, n++;
  }
  return n;
}

static void reverse(char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n / 2; i++) {
    char t = s[i];
    s[i] = s[n - 1 - i];
    s[n - 1 - i] = t;
  }
}

static void caesar(char *s, int k) {
  for (; *s; s++)
    if (islower((unsigned char)*s)) *s = (char)('a' + (*s - 'a' + k) % 26);
}

static void rle(const char *s, char *out, size_t cap) {
  size_t o = 0;
  while (*s && o + 8 < cap) {
    char c = *s;
    int run = 0;
    while (*s == c) s++, run++;
    o += (size_t)snprintf(out + o, cap - o, "%d%c", run, c);
  }
  out[o] = '\0';
}

int kiln_main(void) {
  char buf[256];
  printf("words %d\n", count_words(text));
  strcpy(buf, text);
  reverse(buf);
  printf("reversed %.24s\n", buf);
  strcpy(buf, text);
  caesar(buf, 3);
  printf("caesar %.24s\n", buf);
  strcpy(buf, text);
  char *save = NULL;
  int the = 0, longest = 0;
  for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    if (strcmp(w, "the") == 0) the++;
    if ((int)strlen(w) > longest) longest = (int)strlen(w);
  }
  printf("the %d longest %d\n", the, longest);
  char enc[128];
  rle("aaabccddddde", enc, sizeof enc);
  printf("rle %s\n", enc);
  return 0;
}
