/* utf8.c: making text from the CLI fit for GVariant before json-glib reads it
 *
 * GVariant strings must be valid UTF-8, and a string that is not raises a
 * GLib-CRITICAL and becomes "[Invalid UTF-8]". The CLI relays text from
 * models, MCP servers and tools, and two kinds of it are not UTF-8 once
 * parsed:
 *
 * - bytes that are not UTF-8 at all: json-glib refuses the whole frame,
 *   so the event would be lost;
 * - valid JSON with a lone UTF-16 surrogate escape ("A\udc00B", as
 *   Node's JSON.stringify writes for a broken string): json-glib 1.6
 *   turns a lone low surrogate into CESU bytes and swallows the next
 *   character, and refuses the frame for a lone high surrogate or a
 *   surrogate right before the closing quote.
 *
 * So the frame text is repaired before parsing: invalid bytes become
 * U+FFFD (g_utf8_make_valid), and each escape of an unpaired surrogate
 * becomes the escape of U+FFFD, which has the same length.
 */
#include "config.h"

#include <string.h>

#include "utf8.h"

static gboolean
read_escape (const char *p,
             const char *end,
             gunichar   *out)
{
  gunichar value = 0;

  if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
    return FALSE;
  for (int i = 2; i < 6; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return FALSE;
      value = value * 16 + (gunichar) digit;
    }
  *out = value;
  return TRUE;
}

/* Rewrites the escapes of unpaired surrogates in @text as \ufffd, copying
 * @text into *@copy (when still NULL) before the first change. */
static void
replace_lone_surrogates (const char  *text,
                         gsize        len,
                         char       **copy)
{
  const char *end = text + len;
  const char *p = text;

  while ((p = memchr (p, '\\', (gsize) (end - p))) != NULL)
    {
      gunichar unit, next;

      if (!read_escape (p, end, &unit))
        {
          /* \\ \" \n…: skip the escaped character too. */
          p += MIN (2, end - p);
          continue;
        }
      if (unit >= 0xd800 && unit <= 0xdbff &&
          read_escape (p + 6, end, &next) && next >= 0xdc00 && next <= 0xdfff)
        {
          p += 12;
          continue;
        }
      if (unit >= 0xd800 && unit <= 0xdfff)
        {
          if (*copy == NULL)
            {
              *copy = g_malloc (len + 1);
              memcpy (*copy, text, len);
              (*copy)[len] = '\0';
            }
          memcpy (*copy + (p - text), "\\ufffd", 6);
        }
      p += 6;
    }
}

/**
 * copilotd_json_text_make_valid:
 * @text: JSON text of @len bytes, not necessarily NUL-terminated
 * @out_len: (out): the length of the returned text
 *
 * Returns: (transfer full) (nullable): a repaired NUL-terminated copy of
 *   @text whose strings all parse to valid UTF-8, or %NULL when @text
 *   needs no repair.
 */
char *
copilotd_json_text_make_valid (const char *text,
                               gsize       len,
                               gsize      *out_len)
{
  char *copy = NULL;

  if (!g_utf8_validate_len (text, len, NULL))
    {
      /* NULs are invalid in JSON text; make_valid turns them into U+FFFD too. */
      copy = g_utf8_make_valid (text, (gssize) len);
      len = strlen (copy);
      text = copy;
    }
  if (memchr (text, '\\', len) != NULL)
    {
      char *fixed = copy;

      replace_lone_surrogates (text, len, &fixed);
      /* The copy, if any, was made from text: same length. */
      if (fixed != copy)
        {
          g_free (copy);
          copy = fixed;
        }
    }
  *out_len = len;
  return copy;
}
