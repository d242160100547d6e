/* SPDX-License-Identifier: MIT */
/* output.c: colours, columns, JSON lines and error messages of copilotctl */
#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "copilotctl.h"

/* Colour only on a terminal, and never when NO_COLOR is set at all
 * (https://no-color.org). */
gboolean
ctl_use_color (FILE *stream)
{
  if (g_getenv ("NO_COLOR") != NULL)
    return FALSE;
  if (g_strcmp0 (g_getenv ("TERM"), "dumb") == 0)
    return FALSE;
  return isatty (fileno (stream));
}

const char *
ctl_style (FILE *stream,
           int   style)
{
  static const char * const codes[] = {
    [CTL_STYLE_RESET] = "\033[0m",
    [CTL_STYLE_BOLD] = "\033[1m",
    [CTL_STYLE_DIM] = "\033[2m",
    [CTL_STYLE_RED] = "\033[31m",
    [CTL_STYLE_GREEN] = "\033[32m",
    [CTL_STYLE_YELLOW] = "\033[33m",
    [CTL_STYLE_CYAN] = "\033[36m",
  };

  if (style < 0 || style >= (int) G_N_ELEMENTS (codes) || !ctl_use_color (stream))
    return "";
  return codes[style];
}

/* Symbols such as "▸" only when the locale can show them. */
const char *
ctl_glyph (const char *utf8,
           const char *ascii)
{
  return g_get_charset (NULL) ? utf8 : ascii;
}

void
ctl_printerr (const char *format,
              ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  fflush (stdout);
  fprintf (stderr, "copilotctl: %s\n", message);
}

/* Remote errors arrive as "GDBus.Error:io.github.copilotd.Copilot1.Error.X: text";
 * a person only needs the text. */
void
ctl_print_error (const GError *error)
{
  g_autoptr(GError) copy = g_error_copy (error);

  if (g_dbus_error_is_remote_error (copy))
    g_dbus_error_strip_remote_error (copy);

  if (g_error_matches (copy, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (copy, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    ctl_printerr (_("copilotd is not running and cannot be started: %s"), copy->message);
  else
    ctl_printerr ("%s", copy->message);
}

/* 0 when @stream is not a terminal: then nothing is truncated. */
guint
ctl_terminal_width (FILE *stream)
{
  struct winsize ws;
  const char *columns;

  if (!isatty (fileno (stream)))
    return 0;
  if (ioctl (fileno (stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  columns = g_getenv ("COLUMNS");
  if (columns != NULL && atoi (columns) > 0)
    return (guint) atoi (columns);
  return 80;
}

static guint
unichar_width (gunichar c)
{
  if (g_unichar_iszerowidth (c))
    return 0;
  if (g_unichar_iswide (c))
    return 2;
  return 1;
}

guint
ctl_display_width (const char *text)
{
  guint width = 0;

  if (text == NULL)
    return 0;
  if (!g_utf8_validate (text, -1, NULL))
    return (guint) strlen (text);
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    width += unichar_width (g_utf8_get_char (p));
  return width;
}

/* Cut @text to @width columns, ending in "…" when cut; 0 means no limit. */
char *
ctl_truncate (const char *text,
              guint       width)
{
  const char *ellipsis = ctl_glyph ("…", "...");
  guint ellipsis_width = ctl_display_width (ellipsis);
  guint used = 0;
  const char *p;
  GString *out;

  if (text == NULL)
    return g_strdup ("");
  if (width == 0 || ctl_display_width (text) <= width || !g_utf8_validate (text, -1, NULL))
    return g_strdup (text);
  if (width <= ellipsis_width)
    return g_strdup (ellipsis);

  out = g_string_new (NULL);
  for (p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      guint w = unichar_width (c);

      if (used + w > width - ellipsis_width)
        break;
      g_string_append_unichar (out, c);
      used += w;
    }
  g_string_append (out, ellipsis);
  return g_string_free (out, FALSE);
}

/* Collapses runs of white space (newlines included) so that text fits on
 * one line of a listing. */
char *
ctl_one_line (const char *text)
{
  GString *out = g_string_new (NULL);
  gboolean space = FALSE;

  for (const char *p = text ? text : ""; *p != '\0'; p++)
    {
      if (g_ascii_isspace (*p))
        {
          space = TRUE;
          continue;
        }
      if (space && out->len > 0)
        g_string_append_c (out, ' ');
      space = FALSE;
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

char *
ctl_format_time (const char *iso8601)
{
  g_autoptr(GDateTime) time = NULL;
  g_autoptr(GDateTime) local = NULL;

  if (iso8601 == NULL || *iso8601 == '\0')
    return g_strdup ("-");
  time = g_date_time_new_from_iso8601 (iso8601, NULL);
  if (time == NULL)
    return g_strdup (iso8601);
  local = g_date_time_to_local (time);
  return g_date_time_format (local, "%Y-%m-%d %H:%M");
}

/* One JSON value per line, flushed, so that a reader sees it at once. */
void
ctl_json_print (JsonNode *node)
{
  g_autofree char *text = json_to_string (node, FALSE);

  fputs (text, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

void
ctl_json_print_builder (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  ctl_json_print (root);
}

/* NULL for text that is not JSON; the CLI's data is shown raw then. */
JsonNode *
ctl_json_parse (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (text == NULL || !json_parser_load_from_data (parser, text, -1, NULL))
    return NULL;
  if (json_parser_get_root (parser) == NULL)
    return NULL;
  return json_node_copy (json_parser_get_root (parser));
}

JsonNode *
ctl_json_get_member (JsonNode   *node,
                     const char *member)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_object_get_member (json_node_get_object (node), member);
}

const char *
ctl_json_get_string (JsonNode   *node,
                     const char *member)
{
  JsonNode *value = ctl_json_get_member (node, member);

  if (value == NULL || json_node_get_value_type (value) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (value);
}

gboolean
ctl_json_get_boolean (JsonNode   *node,
                      const char *member)
{
  JsonNode *value = ctl_json_get_member (node, member);

  if (value == NULL || json_node_get_value_type (value) != G_TYPE_BOOLEAN)
    return FALSE;
  return json_node_get_boolean (value);
}

/* @dict is an a{sv}; returns NULL unless @key holds a string or path. */
const char *
ctl_vardict_get_string (GVariant   *dict,
                        const char *key)
{
  g_autoptr(GVariant) value = NULL;

  if (dict == NULL)
    return NULL;
  value = g_variant_lookup_value (dict, key, NULL);
  if (value == NULL ||
      !(g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ||
        g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH)))
    return NULL;
  /* The string lives as long as @dict does: it holds the data. */
  return g_variant_get_string (value, NULL);
}

void
ctl_print_diff (FILE       *stream,
                const char *diff,
                const char *indent)
{
  g_auto(GStrv) lines = g_strsplit (diff, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      int style = -1;

      if (lines[i + 1] == NULL && *line == '\0')
        break;
      if (g_str_has_prefix (line, "+++") || g_str_has_prefix (line, "---"))
        style = CTL_STYLE_BOLD;
      else if (line[0] == '+')
        style = CTL_STYLE_GREEN;
      else if (line[0] == '-')
        style = CTL_STYLE_RED;
      else if (g_str_has_prefix (line, "@@"))
        style = CTL_STYLE_CYAN;

      if (style >= 0)
        fprintf (stream, "%s%s%s%s\n", indent, ctl_style (stream, style), line,
                 ctl_style (stream, CTL_STYLE_RESET));
      else
        fprintf (stream, "%s%s\n", indent, line);
    }
}

/* What a tool call is about, for a one-line summary. */
const char *
ctl_tool_detail (JsonNode *data)
{
  JsonNode *arguments = ctl_json_get_member (data, "arguments");
  const char *keys[] = { "command", "path", "url", "query", "pattern" };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *value = ctl_json_get_string (arguments, keys[i]);

      if (value != NULL && *value != '\0')
        return value;
    }
  return ctl_json_get_string (data, "toolTitle");
}

struct _CtlTable {
  guint n_columns;
  GPtrArray *rows;   /* owned, of GStrv; the first is the header */
};

CtlTable *
ctl_table_new (guint n_columns,
               ...)
{
  CtlTable *table = g_new0 (CtlTable, 1);
  GStrv header = g_new0 (char *, n_columns + 1);
  va_list args;

  table->n_columns = n_columns;
  table->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  va_start (args, n_columns);
  for (guint i = 0; i < n_columns; i++)
    header[i] = g_strdup (va_arg (args, const char *));
  va_end (args);
  g_ptr_array_add (table->rows, header);
  return table;
}

void
ctl_table_add_row (CtlTable *table,
                   ...)
{
  GStrv row = g_new0 (char *, table->n_columns + 1);
  va_list args;

  va_start (args, table);
  for (guint i = 0; i < table->n_columns; i++)
    {
      const char *cell = va_arg (args, const char *);

      row[i] = ctl_one_line (cell ? cell : "");
    }
  va_end (args);
  g_ptr_array_add (table->rows, row);
}

/* Aligned columns two spaces apart; on a terminal the last column is cut to
 * the width of the screen, like ps and busctl do. */
static void
table_print (CtlTable *table,
             FILE     *stream,
             gboolean  header)
{
  g_autofree guint *widths = g_new0 (guint, table->n_columns);
  guint screen = ctl_terminal_width (stream);
  guint before_last = 0;

  for (guint r = 0; r < table->rows->len; r++)
    {
      GStrv row = g_ptr_array_index (table->rows, r);

      for (guint c = 0; c < table->n_columns; c++)
        widths[c] = MAX (widths[c], ctl_display_width (row[c]));
    }
  for (guint c = 0; c + 1 < table->n_columns; c++)
    before_last += widths[c] + 2;

  for (guint r = header ? 0 : 1; r < table->rows->len; r++)
    {
      GStrv row = g_ptr_array_index (table->rows, r);

      if (r == 0)
        fputs (ctl_style (stream, CTL_STYLE_BOLD), stream);
      for (guint c = 0; c < table->n_columns; c++)
        {
          if (c + 1 < table->n_columns)
            {
              guint pad = widths[c] - ctl_display_width (row[c]) + 2;

              fprintf (stream, "%s%*s", row[c], (int) pad, "");
            }
          else
            {
              guint room = 0;
              g_autofree char *cell = NULL;

              if (screen > 0)
                room = screen > before_last + 1 ? screen - before_last - 1 : 1;
              cell = ctl_truncate (row[c], room);
              fputs (cell, stream);
            }
        }
      if (r == 0)
        fputs (ctl_style (stream, CTL_STYLE_RESET), stream);
      fputc ('\n', stream);
    }
  fflush (stream);
}

void
ctl_table_print (CtlTable *table,
                 FILE     *stream)
{
  table_print (table, stream, TRUE);
}

/* For label/value lists, which have no header. */
void
ctl_table_print_body (CtlTable *table,
                      FILE     *stream)
{
  table_print (table, stream, FALSE);
}

void
ctl_table_free (CtlTable *table)
{
  if (table == NULL)
    return;
  g_ptr_array_unref (table->rows);
  g_free (table);
}
