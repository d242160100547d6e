/* SPDX-License-Identifier: MIT */
/* json-fast.c: a fast path for reading the CLI's JSON-RPC bodies
 *
 * json-glib 1.6 parses through GScanner, one character at a time with a
 * function call each; on a streamed delta that was a quarter of what
 * copilotd spends relaying it (callgrind, README "Performance"). This
 * reader builds the same JsonNode tree in one pass over the bytes. It only
 * takes what it reads exactly as json-glib would; for anything else —
 * invalid JSON, an empty or repeated member name, \u0000, a number
 * json-glib might read differently, nesting deeper than MAX_DEPTH — it
 * returns NULL and the caller asks json-glib, so errors and corner cases
 * keep json-glib's behaviour and messages.
 *
 * The text must be valid UTF-8 without lone surrogate escapes (utf8.c
 * makes it so before either parser sees it).
 *
 * copilotd_json_peek_event() reads only the method and the event type of
 * a frame, building nothing, so that internal noise nobody asked for is
 * dropped before any tree is built (event-relay.c).
 */
#include "config.h"

#include <string.h>

#include "json-fast.h"

#define MAX_DEPTH 64
/* Integers of up to 18 digits fit in gint64 whatever they are. */
#define MAX_INT_DIGITS 18

typedef struct {
  const char *p;
  const char *end;
  GString *scratch;     /* owned: the current string, unescaped */
} Reader;

static JsonNode *read_value (Reader *r, guint depth);

static void
skip_space (Reader *r)
{
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
    r->p++;
}

static int
hex4 (const char *p)
{
  int value = 0;

  for (int i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  return value;
}

/* Reads a string (at its opening quote) into r->scratch. */
static gboolean
read_string (Reader *r)
{
  const char *p = r->p + 1;

  g_string_truncate (r->scratch, 0);
  for (;;)
    {
      const char *run = p;

      while (p < r->end && *p != '"' && *p != '\\' && (guchar) *p >= 0x20)
        p++;
      g_string_append_len (r->scratch, run, p - run);
      if (p >= r->end || (guchar) *p < 0x20)
        return FALSE;
      if (*p == '"')
        break;

      /* An escape */
      if (r->end - p < 2)
        return FALSE;
      switch (p[1])
        {
        case '"': g_string_append_c (r->scratch, '"'); break;
        case '\\': g_string_append_c (r->scratch, '\\'); break;
        case '/': g_string_append_c (r->scratch, '/'); break;
        case 'b': g_string_append_c (r->scratch, '\b'); break;
        case 'f': g_string_append_c (r->scratch, '\f'); break;
        case 'n': g_string_append_c (r->scratch, '\n'); break;
        case 'r': g_string_append_c (r->scratch, '\r'); break;
        case 't': g_string_append_c (r->scratch, '\t'); break;
        case 'u':
          {
            int unit = r->end - p >= 6 ? hex4 (p + 2) : -1;
            gunichar c;

            if (unit <= 0)   /* bad, or \u0000 which json-glib cuts at */
              return FALSE;
            c = (gunichar) unit;
            if (unit >= 0xd800 && unit <= 0xdbff)
              {
                int low = r->end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4 (p + 8) : -1;

                if (low < 0xdc00 || low > 0xdfff)
                  return FALSE;
                c = 0x10000 + (((gunichar) unit - 0xd800) << 10) + ((gunichar) low - 0xdc00);
                p += 6;
              }
            else if (unit >= 0xdc00 && unit <= 0xdfff)
              return FALSE;
            g_string_append_unichar (r->scratch, c);
            p += 4;
          }
          break;
        default:
          return FALSE;
        }
      p += 2;
    }
  r->p = p + 1;
  return TRUE;
}

static JsonNode *
read_number (Reader *r)
{
  const char *start = r->p, *p = r->p;
  gboolean is_float = FALSE;
  guint digits = 0;
  char buf[64];

  if (p < r->end && *p == '-')
    p++;
  if (p >= r->end || !g_ascii_isdigit (*p))
    return NULL;
  if (*p == '0' && p + 1 < r->end && g_ascii_isdigit (p[1]))
    return NULL;   /* a leading zero */
  while (p < r->end && g_ascii_isdigit (*p))
    p++, digits++;
  if (p < r->end && *p == '.')
    {
      is_float = TRUE;
      p++;
      if (p >= r->end || !g_ascii_isdigit (*p))
        return NULL;
      while (p < r->end && g_ascii_isdigit (*p))
        p++;
    }
  if (p < r->end && (*p == 'e' || *p == 'E'))
    {
      is_float = TRUE;
      p++;
      if (p < r->end && (*p == '+' || *p == '-'))
        p++;
      if (p >= r->end || !g_ascii_isdigit (*p))
        return NULL;
      while (p < r->end && g_ascii_isdigit (*p))
        p++;
    }
  if ((gsize) (p - start) >= sizeof buf || (!is_float && digits > MAX_INT_DIGITS))
    return NULL;
  memcpy (buf, start, p - start);
  buf[p - start] = '\0';
  r->p = p;
  if (is_float)
    return json_node_init_double (json_node_alloc (), g_ascii_strtod (buf, NULL));
  return json_node_init_int (json_node_alloc (), g_ascii_strtoll (buf, NULL, 10));
}

static gboolean
read_word (Reader     *r,
           const char *word)
{
  gsize len = strlen (word);

  if ((gsize) (r->end - r->p) < len || memcmp (r->p, word, len) != 0)
    return FALSE;
  r->p += len;
  return TRUE;
}

static JsonNode *
read_object (Reader *r,
             guint   depth)
{
  g_autoptr(JsonObject) object = json_object_new ();

  r->p++;
  skip_space (r);
  if (r->p < r->end && *r->p == '}')
    {
      r->p++;
      return json_node_init_object (json_node_alloc (), object);
    }
  for (;;)
    {
      /* The value is read into r->scratch too, so the name is copied
       * first: on the stack when short, as member names are. */
      char short_name[64];
      g_autofree char *long_name = NULL;
      const char *name;
      guint size = json_object_get_size (object);
      JsonNode *value;

      skip_space (r);
      if (r->p >= r->end || *r->p != '"' || !read_string (r) || r->scratch->len == 0)
        return NULL;
      if (r->scratch->len < sizeof short_name)
        name = memcpy (short_name, r->scratch->str, r->scratch->len + 1);
      else
        name = long_name = g_strndup (r->scratch->str, r->scratch->len);
      skip_space (r);
      if (r->p >= r->end || *r->p != ':')
        return NULL;
      r->p++;
      if ((value = read_value (r, depth + 1)) == NULL)
        return NULL;
      json_object_set_member (object, name, value);
      /* A repeated name replaced the earlier member instead of adding one. */
      if (json_object_get_size (object) == size)
        return NULL;
      skip_space (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          continue;
        }
      if (r->p < r->end && *r->p == '}')
        {
          r->p++;
          return json_node_init_object (json_node_alloc (), object);
        }
      return NULL;
    }
}

static JsonNode *
read_array (Reader *r,
            guint   depth)
{
  g_autoptr(JsonArray) array = json_array_new ();

  r->p++;
  skip_space (r);
  if (r->p < r->end && *r->p == ']')
    {
      r->p++;
      return json_node_init_array (json_node_alloc (), array);
    }
  for (;;)
    {
      JsonNode *value = read_value (r, depth + 1);

      if (value == NULL)
        return NULL;
      json_array_add_element (array, value);
      skip_space (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          continue;
        }
      if (r->p < r->end && *r->p == ']')
        {
          r->p++;
          return json_node_init_array (json_node_alloc (), array);
        }
      return NULL;
    }
}

static JsonNode *
read_value (Reader *r,
            guint   depth)
{
  if (depth > MAX_DEPTH)
    return NULL;
  skip_space (r);
  if (r->p >= r->end)
    return NULL;
  switch (*r->p)
    {
    case '{':
      return read_object (r, depth);
    case '[':
      return read_array (r, depth);
    case '"':
      if (!read_string (r))
        return NULL;
      return json_node_init_string (json_node_alloc (), r->scratch->str);
    case 't':
      return read_word (r, "true") ? json_node_init_boolean (json_node_alloc (), TRUE) : NULL;
    case 'f':
      return read_word (r, "false") ? json_node_init_boolean (json_node_alloc (), FALSE) : NULL;
    case 'n':
      return read_word (r, "null") ? json_node_init_null (json_node_alloc ()) : NULL;
    default:
      return read_number (r);
    }
}

/**
 * copilotd_json_parse_fast:
 * @data: JSON text, valid UTF-8
 * @len: its length
 *
 * Returns: (transfer full) (nullable): the tree json-glib would build, or
 *   %NULL when json-glib must decide (anything unusual, errors included).
 */
JsonNode *
copilotd_json_parse_fast (const char *data,
                          gsize       len)
{
  g_autoptr(GString) scratch = g_string_sized_new (256);
  Reader r = { data, data + len, scratch };
  g_autoptr(JsonNode) root = read_value (&r, 0);

  if (root == NULL)
    return NULL;
  skip_space (&r);
  if (r.p != r.end)
    return NULL;
  return g_steal_pointer (&root);
}

/* ---- peeking ------------------------------------------------------------- */

static gboolean skip_value (Reader *r, guint depth);

/* Skips a string at its opening quote, without unescaping it. */
static gboolean
skip_string (Reader *r)
{
  const char *p = r->p + 1;

  for (;;)
    {
      const char *quote = memchr (p, '"', r->end - p);
      const char *b;

      if (quote == NULL)
        return FALSE;
      /* Escaped when an odd number of backslashes precede it. */
      for (b = quote; b > p && b[-1] == '\\'; b--)
        ;
      if ((quote - b) % 2 == 0)
        {
          r->p = quote + 1;
          return TRUE;
        }
      p = quote + 1;
    }
}

static gboolean
skip_value (Reader *r,
            guint   depth)
{
  char open;

  skip_space (r);
  if (r->p >= r->end || depth > MAX_DEPTH)
    return FALSE;
  if (*r->p == '"')
    return skip_string (r);
  if (*r->p != '{' && *r->p != '[')
    {
      /* A number or a word: up to the next delimiter. */
      const char *start = r->p;

      while (r->p < r->end && *r->p != ',' && *r->p != '}' && *r->p != ']' &&
             *r->p != ' ' && *r->p != '\n' && *r->p != '\r' && *r->p != '\t')
        r->p++;
      return r->p > start;
    }

  open = *r->p++;
  skip_space (r);
  if (r->p < r->end && *r->p == (open == '{' ? '}' : ']'))
    {
      r->p++;
      return TRUE;
    }
  for (;;)
    {
      if (open == '{')
        {
          skip_space (r);
          if (r->p >= r->end || *r->p != '"' || !skip_string (r))
            return FALSE;
          skip_space (r);
          if (r->p >= r->end || *r->p != ':')
            return FALSE;
          r->p++;
        }
      if (!skip_value (r, depth + 1))
        return FALSE;
      skip_space (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          continue;
        }
      if (r->p < r->end && *r->p == (open == '{' ? '}' : ']'))
        {
          r->p++;
          return TRUE;
        }
      return FALSE;
    }
}

/* Walks the object at r->p; for each member named in @names (NULL
 * ended), calls @found, which reads the value and returns FALSE to stop. */
typedef gboolean (*MemberFunc) (Reader *r, guint index, gpointer data);

static gboolean
walk_object (Reader             *r,
             const char * const *names,
             MemberFunc          found,
             gpointer            data)
{
  skip_space (r);
  if (r->p >= r->end || *r->p != '{')
    return FALSE;
  r->p++;
  skip_space (r);
  if (r->p < r->end && *r->p == '}')
    {
      r->p++;
      return TRUE;
    }
  for (;;)
    {
      int index = -1;

      skip_space (r);
      if (r->p >= r->end || *r->p != '"' || !read_string (r))
        return FALSE;
      for (guint i = 0; names[i] != NULL; i++)
        if (strcmp (r->scratch->str, names[i]) == 0)
          index = (int) i;
      skip_space (r);
      if (r->p >= r->end || *r->p != ':')
        return FALSE;
      r->p++;
      if (index >= 0)
        {
          if (!found (r, (guint) index, data))
            return FALSE;
        }
      else if (!skip_value (r, 1))
        return FALSE;
      skip_space (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          continue;
        }
      if (r->p >= r->end || *r->p != '}')
        return FALSE;
      r->p++;
      return TRUE;
    }
}

typedef struct {
  char *method;
  char *type;
} Peek;

static gboolean
found_string (Reader *r,
              char  **out)
{
  skip_space (r);
  if (r->p >= r->end || *r->p != '"' || !read_string (r))
    return FALSE;
  g_free (*out);
  *out = g_strndup (r->scratch->str, r->scratch->len);
  return TRUE;
}

/* Both found: stop walking (FALSE), the rest of the frame is not read. */
static gboolean
peek_go_on (Peek *peek)
{
  return peek->method == NULL || peek->type == NULL;
}

static gboolean
found_in_event (Reader  *r,
                guint    index,
                gpointer data)
{
  return found_string (r, &((Peek *) data)->type) && peek_go_on (data);
}

static gboolean
found_in_params (Reader  *r,
                 guint    index,
                 gpointer data)
{
  static const char * const names[] = { "type", NULL };

  return walk_object (r, names, found_in_event, data);
}

static gboolean
found_in_message (Reader  *r,
                  guint    index,
                  gpointer data)
{
  static const char * const names[] = { "event", NULL };

  if (index == 0)
    return found_string (r, &((Peek *) data)->method) && peek_go_on (data);
  return walk_object (r, names, found_in_params, data);
}

/**
 * copilotd_json_peek_event:
 * @data: a JSON-RPC body, valid UTF-8
 * @len: its length
 * @out_method: (out): the message's method
 * @out_type: (out): its params.event.type
 *
 * Reads the method and the event type of a `session.event` notification
 * without building a tree.
 *
 * Returns: %TRUE when both were found (the rest of the frame is not
 *   read: a frame cut short after them is the full parser's to reject).
 */
gboolean
copilotd_json_peek_event (const char  *data,
                          gsize        len,
                          char       **out_method,
                          char       **out_type)
{
  static const char * const names[] = { "method", "params", NULL };
  g_autoptr(GString) scratch = g_string_sized_new (64);
  Reader r = { data, data + len, scratch };
  Peek peek = { NULL, NULL };

  /* The walk stops as soon as both are found (it says FALSE then). */
  walk_object (&r, names, found_in_message, &peek);
  if (peek.method == NULL || peek.type == NULL)
    {
      g_free (peek.method);
      g_free (peek.type);
      return FALSE;
    }
  *out_method = peek.method;
  *out_type = peek.type;
  return TRUE;
}
