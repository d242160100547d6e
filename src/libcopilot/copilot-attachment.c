/* SPDX-License-Identifier: MIT */
/* copilot-attachment.c: the attachments of a turn, as Send takes them
 *
 * Each is the `a{sv}` of one entry of Send's `attachments` option
 * (DESIGN.md §4, §8): a file, a directory, or bytes (a blob). A file or
 * directory that does not exist is the daemon's InvalidArgs naming it; a
 * relative path is taken from the session's working directory.
 */
#include "config.h"

#include "copilot-private.h"

static GVariant *
attachment (const char *type,
            const char *path,
            const char *display_name)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "type", "s", type);
  g_variant_dict_insert (&dict, "path", "s", path);
  if (display_name != NULL)
    g_variant_dict_insert (&dict, "display-name", "s", display_name);
  return g_variant_dict_end (&dict);
}

/**
 * copilot_attachment_new_file:
 * @path: the file, absolute or relative to the session's working directory
 * @display_name: (nullable): how the model sees it named (default: its
 *   base name)
 *
 * Returns: (transfer floating): a file attachment, an `a{sv}`
 */
GVariant *
copilot_attachment_new_file (const char *path,
                             const char *display_name)
{
  g_return_val_if_fail (path != NULL, NULL);
  return attachment ("file", path, display_name);
}

/**
 * copilot_attachment_new_directory:
 * @path: the directory, absolute or relative to the session's working
 *   directory
 * @display_name: (nullable): how the model sees it named
 *
 * Returns: (transfer floating): a directory attachment, an `a{sv}`
 */
GVariant *
copilot_attachment_new_directory (const char *path,
                                  const char *display_name)
{
  g_return_val_if_fail (path != NULL, NULL);
  return attachment ("directory", path, display_name);
}

/**
 * copilot_attachment_new_blob:
 * @data: the bytes (an image, a document); at most 32 MiB
 * @mime_type: (nullable): their type (default `application/octet-stream`)
 * @display_name: (nullable): how the model sees them named
 *
 * Bytes the app has rather than a file the CLI can read: a screenshot, a
 * file from a portal.
 *
 * Returns: (transfer floating): a blob attachment, an `a{sv}`
 */
GVariant *
copilot_attachment_new_blob (GBytes     *data,
                             const char *mime_type,
                             const char *display_name)
{
  GVariantDict dict;

  g_return_val_if_fail (data != NULL, NULL);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "type", "s", "blob");
  g_variant_dict_insert_value (&dict, "data", g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, data, TRUE));
  if (mime_type != NULL)
    g_variant_dict_insert (&dict, "mime-type", "s", mime_type);
  if (display_name != NULL)
    g_variant_dict_insert (&dict, "display-name", "s", display_name);
  return g_variant_dict_end (&dict);
}

/**
 * copilot_attachments_to_options:
 * @options: (nullable): Send's `a{sv}` options so far; a floating
 *   reference is consumed
 * @attachments: (array length=n_attachments): attachments made with the
 *   functions above; floating references are consumed
 * @n_attachments: how many
 *
 * Adds @attachments to the `attachments` of @options, for
 * copilot_session_send() and copilot_session_send_and_wait().
 *
 * Returns: (transfer floating): the options with the attachments
 */
GVariant *
copilot_attachments_to_options (GVariant  *options,
                                GVariant **attachments,
                                guint      n_attachments)
{
  g_autoptr(GVariant) sunk = options != NULL ? g_variant_ref_sink (options) : NULL;
  g_autoptr(GVariant) old = NULL;
  GVariantBuilder list;
  GVariantDict dict;

  g_variant_dict_init (&dict, sunk);
  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  old = g_variant_dict_lookup_value (&dict, "attachments", G_VARIANT_TYPE ("aa{sv}"));
  if (old != NULL)
    {
      GVariantIter iter;
      GVariant *entry;

      g_variant_iter_init (&iter, old);
      while ((entry = g_variant_iter_next_value (&iter)) != NULL)
        {
          g_variant_builder_add_value (&list, entry);
          g_variant_unref (entry);
        }
    }
  for (guint i = 0; i < n_attachments; i++)
    g_variant_builder_add_value (&list, attachments[i]);
  g_variant_dict_insert_value (&dict, "attachments", g_variant_builder_end (&list));
  return g_variant_dict_end (&dict);
}
