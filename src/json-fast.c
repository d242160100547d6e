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

/* The bytes a string holds as they are: not a quote, a backslash or a
 * control character. One load per byte instead of three compares. */
static const guint8 string_byte[256] = {
  [0x20 ... 0x21] = 1,   /* '"' is 0x22 */
  [0x23 ... 0x5b] = 1,   /* '\\' is 0x5c */
  [0x5d ... 0xff] = 1,
};

/* g_string_append_len() without its general case (@text inside @out,
 * an insertion point): GLib 2.74 has no inline version, and the call was
 * a sixth of reading a delta. */
static inline void
string_append (GString    *out,
               const char *text,
               gsize       len)
{
  gsize at = out->len;

  if (at + len < out->allocated_len)
    {
      out->len = at + len;
      out->str[out->len] = '\0';
    }
  else
    g_string_set_size (out, at + len);
  memcpy (out->str + at, text, len);
}

/* Reads a string (at its opening quote), appending it to @out. */
static gboolean
read_string_to (Reader  *r,
                GString *out)
{
  const char *p = r->p + 1;

  for (;;)
    {
      const char *run = p;

      while (p < r->end && string_byte[(guchar) *p])
        p++;
      string_append (out, run, p - run);
      if (p >= r->end || (guchar) *p < 0x20)
        return FALSE;
      if (*p == '"')
        break;

      /* An escape */
      if (r->end - p < 2)
        return FALSE;
      switch (p[1])
        {
        case '"': g_string_append_c (out, '"'); break;
        case '\\': g_string_append_c (out, '\\'); break;
        case '/': g_string_append_c (out, '/'); break;
        case 'b': g_string_append_c (out, '\b'); break;
        case 'f': g_string_append_c (out, '\f'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 't': g_string_append_c (out, '\t'); break;
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
            g_string_append_unichar (out, c);
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

/* Reads a string (at its opening quote) into r->scratch. */
static gboolean
read_string (Reader *r)
{
  g_string_truncate (r->scratch, 0);
  return read_string_to (r, r->scratch);
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

/* ---- plain deltas --------------------------------------------------------- */

/* Where copilotd_json_read_delta() keeps what it read: offsets into the
 * strings buffer (which may move as it grows), -1 for absent. */
enum {
  D_METHOD, D_SESSION_ID, D_TYPE, D_ID, D_PARENT_ID, D_TIMESTAMP, D_AGENT_ID,
  D_MESSAGE_ID, D_REASONING_ID, D_TEXT, D_JSONRPC, N_D
};

typedef struct {
  GString *strings;            /* unowned: every value, NUL-terminated */
  gssize at[N_D];
  gsize len[N_D];
  guint data_members;          /* members of data read so far */
  gboolean text_first;         /* deltaContent came before the id */
  gboolean ephemeral;
  gboolean have_params, have_event, have_data, have_ephemeral;
} DeltaRead;

/* A member name without escapes (else the tree path reads the frame): its
 * index in @names, -1 when it is none of them. */
static gboolean
read_plain_name (Reader             *r,
                 const char * const *names,
                 int                *out_index)
{
  const char *start = r->p + 1, *p = start;

  while (p < r->end && string_byte[(guchar) *p])
    p++;
  if (p >= r->end || *p != '"')
    return FALSE;
  *out_index = -1;
  for (int i = 0; names[i] != NULL; i++)
    if (names[i][0] == *start && strlen (names[i]) == (gsize) (p - start) &&
        memcmp (names[i], start, p - start) == 0)
      {
        *out_index = i;
        break;
      }
  r->p = p + 1;
  return TRUE;
}

static gboolean
take_string (Reader    *r,
             DeltaRead *d,
             guint      slot,
             gboolean   nullable)
{
  gsize start = d->strings->len;

  if (d->at[slot] >= 0)
    return FALSE;   /* a repeated member: json-glib's rules decide */
  skip_space (r);
  if (r->p < r->end && *r->p == 'n' && nullable)
    return read_word (r, "null");
  if (r->p >= r->end || *r->p != '"' || !read_string_to (r, d->strings))
    return FALSE;
  d->at[slot] = (gssize) start;
  d->len[slot] = d->strings->len - start;
  g_string_append_c (d->strings, '\0');
  return TRUE;
}

typedef gboolean (*DeltaMemberFunc) (Reader *r, DeltaRead *d, int index);

/* Reads the object at r->p, each member through @member; a member not in
 * @names, or an object that ends early or goes on, ends the read. */
static gboolean
read_delta_object (Reader             *r,
                   DeltaRead          *d,
                   const char * const *names,
                   DeltaMemberFunc     member)
{
  skip_space (r);
  if (r->p >= r->end || *r->p != '{')
    return FALSE;
  r->p++;
  for (;;)
    {
      int index;

      skip_space (r);
      if (r->p >= r->end || *r->p != '"' || !read_plain_name (r, names, &index) || index < 0)
        return FALSE;
      skip_space (r);
      if (r->p >= r->end || *r->p != ':')
        return FALSE;
      r->p++;
      if (!member (r, d, index))
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

static gboolean
delta_data_member (Reader    *r,
                   DeltaRead *d,
                   int        index)
{
  static const guint slots[] = { D_MESSAGE_ID, D_REASONING_ID, D_TEXT };

  if (index == 2 && d->data_members == 0)
    d->text_first = TRUE;
  d->data_members++;
  return take_string (r, d, slots[index], FALSE);
}

static gboolean
delta_event_member (Reader    *r,
                    DeltaRead *d,
                    int        index)
{
  static const char * const data_names[] = { "messageId", "reasoningId", "deltaContent", NULL };
  static const guint slots[] = { D_TYPE, D_ID, D_PARENT_ID, D_TIMESTAMP, D_AGENT_ID };

  switch (index)
    {
    case 0:
      {
        const char *type;

        if (!take_string (r, d, D_TYPE, FALSE))
          return FALSE;
        /* Any other event is the tree path's: stop reading at once. */
        type = d->strings->str + d->at[D_TYPE];
        return strcmp (type, "assistant.message_delta") == 0 ||
               strcmp (type, "assistant.reasoning_delta") == 0;
      }
    case 1: case 2: case 3: case 4:
      return take_string (r, d, slots[index], TRUE);
    case 5:
      if (d->have_data)
        return FALSE;
      d->have_data = TRUE;
      return read_delta_object (r, d, data_names, delta_data_member);
    case 6:
      skip_space (r);
      if (d->have_ephemeral || r->p >= r->end)
        return FALSE;   /* a second ephemeral: json-glib's rules decide */
      d->have_ephemeral = TRUE;
      if (*r->p == 't')
        return (d->ephemeral = read_word (r, "true"));
      return read_word (r, *r->p == 'f' ? "false" : "null");
    default:
      return FALSE;
    }
}

static gboolean
delta_params_member (Reader    *r,
                     DeltaRead *d,
                     int        index)
{
  static const char * const event_names[] = { "type", "id", "parentId", "timestamp", "agentId",
                                              "data", "ephemeral", NULL };

  if (index == 0)
    return take_string (r, d, D_SESSION_ID, FALSE);
  if (d->have_event)
    return FALSE;
  d->have_event = TRUE;
  return read_delta_object (r, d, event_names, delta_event_member);
}

static gboolean
delta_message_member (Reader    *r,
                      DeltaRead *d,
                      int        index)
{
  static const char * const params_names[] = { "sessionId", "event", NULL };

  switch (index)
    {
    case 0:
      if (!take_string (r, d, D_METHOD, FALSE))
        return FALSE;
      return strcmp (d->strings->str + d->at[D_METHOD], "session.event") == 0;
    case 1:
      if (d->have_params)
        return FALSE;
      d->have_params = TRUE;
      return read_delta_object (r, d, params_names, delta_params_member);
    default:
      /* "jsonrpc", which the tree path does not look at either */
      return take_string (r, d, D_JSONRPC, FALSE);
    }
}

/**
 * copilotd_json_read_delta:
 * @data: a JSON-RPC body, valid UTF-8 without lone surrogate escapes
 * @len: its length
 * @strings: a buffer for the strings read, reused from frame to frame
 * @out: (out): what was read; its strings point into @strings
 *
 * Reads a `session.event` notification of an `assistant.message_delta` or
 * `assistant.reasoning_delta` whose data is its id and text only — the
 * stream's hot frame — straight into @out, without building a tree. Any
 * other frame, and any delta with a member more or less, a repeated member,
 * an escaped member name or a value of another type, is left to the tree
 * path (FALSE), so what it reads is exactly what the tree would hold.
 *
 * Returns: %TRUE when @data was such a frame, read to its end. On %FALSE,
 *   @out's type is that of the `session.event` @data is when the read
 *   got that far (the rest of the frame unread, as by
 *   copilotd_json_peek_event()), else %NULL.
 */
gboolean
copilotd_json_read_delta (const char        *data,
                          gsize              len,
                          GString           *strings,
                          CopilotdJsonDelta *out)
{
  static const char * const message_names[] = { "method", "params", "jsonrpc", NULL };
  static const char * const meta_names[] = { "id", "parentId", "timestamp", "agentId" };
  static const guint meta_slots[] = { D_ID, D_PARENT_ID, D_TIMESTAMP, D_AGENT_ID };
  Reader r = { data, data + len, NULL };
  DeltaRead d = { strings, };
  gboolean reasoning;
  guint id_slot;
  const char **meta[G_N_ELEMENTS (meta_names)] = { &out->id, &out->parent_id, &out->timestamp,
                                                   &out->agent_id };

  g_string_truncate (strings, 0);
  for (guint i = 0; i < N_D; i++)
    d.at[i] = -1;
  out->type = NULL;
  if (!read_delta_object (&r, &d, message_names, delta_message_member))
    goto other;
  skip_space (&r);
  if (r.p != r.end || d.at[D_METHOD] < 0 || d.at[D_SESSION_ID] < 0 || d.at[D_TYPE] < 0 ||
      !d.have_data || d.data_members != 2 || d.at[D_TEXT] < 0)
    goto other;
  reasoning = strcmp (strings->str + d.at[D_TYPE], "assistant.reasoning_delta") == 0;
  id_slot = reasoning ? D_REASONING_ID : D_MESSAGE_ID;
  if (d.at[id_slot] < 0)
    goto other;

  out->session_id = strings->str + d.at[D_SESSION_ID];
  out->type = strings->str + d.at[D_TYPE];
  out->reasoning = reasoning;
  for (guint i = 0; i < G_N_ELEMENTS (meta_names); i++)
    *meta[i] = d.at[meta_slots[i]] >= 0 ? strings->str + d.at[meta_slots[i]] : NULL;
  out->ephemeral = d.ephemeral;
  out->message_id = strings->str + d.at[id_slot];
  out->message_id_len = d.len[id_slot];
  out->text = strings->str + d.at[D_TEXT];
  out->text_len = d.len[D_TEXT];
  out->id_last = d.text_first;
  return TRUE;

other:
  /* A session.event of another type stops the read at its type. */
  if (d.at[D_METHOD] >= 0 && d.at[D_TYPE] >= 0 &&
      strcmp (strings->str + d.at[D_METHOD], "session.event") == 0)
    out->type = strings->str + d.at[D_TYPE];
  return FALSE;
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
