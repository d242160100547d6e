/* SPDX-License-Identifier: MIT */
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
 * becomes the escape of U+FFFD, which has the same length. json-glib is
 * lenient with malformed escapes too (`\ud` followed by non-hex digits
 * becomes bytes that are not UTF-8), so the parsed tree is checked as
 * well and any string still not UTF-8 is made valid.
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

/* g_utf8_validate_len(), ASCII first 8 bytes at a time: GLib's checks a
 * byte at a time, which was 2 % of relaying a delta (README
 * "Performance"). NUL is invalid for both. */
static gboolean
utf8_validate_len (const char *text,
                   gsize       len)
{
  const guint64 high = G_GUINT64_CONSTANT (0x8080808080808080);
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  gsize i = 0;

  for (; i + 8 <= len; i += 8)
    {
      guint64 word;

      memcpy (&word, text + i, 8);
      /* A byte ≥ 0x80, or a NUL byte (the classic has-zero-byte test). */
      if ((word & high) != 0 || ((word - ones) & ~word & high) != 0)
        break;
    }
  return g_utf8_validate_len (text + i, len - i, NULL);
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

  if (!utf8_validate_len (text, len))
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

static void
string_node_make_valid (JsonNode *node)
{
  const char *text = json_node_get_string (node);

  if (text != NULL && !g_utf8_validate (text, -1, NULL))
    {
      g_autofree char *fixed = g_utf8_make_valid (text, -1);

      json_node_set_string (node, fixed);
    }
}

static void
object_make_valid (JsonObject *object)
{
  g_autoptr(GList) members = NULL;
  g_autoptr(GPtrArray) names = NULL;
  gboolean bad_name = FALSE;
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &name, &member))
    {
      copilotd_json_node_make_valid (member);
      bad_name = bad_name || !g_utf8_validate (name, -1, NULL);
    }
  if (!bad_name)
    return;

  /* Copies: renaming a member may free another member's name. */
  members = json_object_get_members (object);
  names = g_ptr_array_new_with_free_func (g_free);
  for (GList *l = members; l != NULL; l = l->next)
    g_ptr_array_add (names, g_strdup (l->data));
  for (guint i = 0; i < names->len; i++)
    {
      name = g_ptr_array_index (names, i);
      member = json_object_get_member (object, name);
      if (member != NULL && !g_utf8_validate (name, -1, NULL))
        {
          g_autofree char *fixed = g_utf8_make_valid (name, -1);

          json_object_set_member (object, fixed, json_node_ref (member));
          json_object_remove_member (object, name);
        }
    }
}

/**
 * copilotd_json_node_make_valid:
 *
 * Replaces every string in @node (values and member names) that is not
 * valid UTF-8 by its g_utf8_make_valid() form.
 */
void
copilotd_json_node_make_valid (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      object_make_valid (json_node_get_object (node));
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          copilotd_json_node_make_valid (json_array_get_element (array, i));
      }
      break;
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        string_node_make_valid (node);
      break;
    case JSON_NODE_NULL:
    default:
      break;
    }
}

/**
 * copilotd_json_from_string_valid:
 *
 * json_from_string() for text from a peer: every string of the result is
 * valid UTF-8 (see above).
 *
 * Returns: (transfer full) (nullable): the node, or %NULL with @error set
 */
JsonNode *
copilotd_json_from_string_valid (const char  *text,
                                 GError     **error)
{
  gsize len = strlen (text);
  g_autofree char *fixed = copilotd_json_text_make_valid (text, len, &len);
  JsonNode *node = json_from_string (fixed ? fixed : text, error);

  if (node != NULL)
    copilotd_json_node_make_valid (node);
  return node;
}
