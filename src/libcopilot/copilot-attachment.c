/* SPDX-License-Identifier: MIT */
/* copilot-attachment.c: the attachments of a turn, as Send and Ask take them
 *
 * Each is the `a{sv}` of one entry of Send's `attachments` option
 * (DESIGN.md §4, §8): a file, a directory, bytes (a blob), or a file
 * descriptor the daemon reads. A file or directory that does not exist is
 * the daemon's InvalidArgs naming it; a relative path is taken from the
 * session's working directory.
 *
 * An `fd` attachment holds this process's descriptor number until it is
 * sent: copilot_attachments_pass_fds() then duplicates each into the
 * call's GUnixFDList and puts its index in its place, as D-Bus wants.
 */
#include "config.h"

#include <gio/gunixfdlist.h>

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

/* A blob or fd attachment: its content under @key, and what it is. */
static GVariant *
content_attachment (const char *type,
                    const char *key,
                    GVariant   *content,
                    const char *mime_type,
                    const char *display_name)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "type", "s", type);
  g_variant_dict_insert_value (&dict, key, content);
  if (mime_type != NULL)
    g_variant_dict_insert (&dict, "mime-type", "s", mime_type);
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
  g_return_val_if_fail (data != NULL, NULL);
  return content_attachment ("blob", "data", g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, data, TRUE),
                             mime_type, display_name);
}

/**
 * copilot_attachment_new_for_fd:
 * @fd: a readable file descriptor of this process of a regular file (a
 *   file or a memfd; the daemon refuses a pipe); the library duplicates it
 *   when the turn is sent, so it may be closed once copilot_session_send(),
 *   copilot_session_send_and_wait() or copilot_client_ask() returned
 * @mime_type: (nullable): the type of what it holds (default
 *   `application/octet-stream`)
 * @display_name: (nullable): how the model sees it named
 *
 * A file the app can open but the CLI maybe cannot, such as one a portal
 * handed over: the descriptor is passed over D-Bus (`fd h`), and the daemon
 * reads it (at most 32 MiB, from its current offset) and sends the bytes as
 * a blob.
 *
 * Returns: (transfer floating): an fd attachment, an `a{sv}`
 */
GVariant *
copilot_attachment_new_for_fd (int         fd,
                               const char *mime_type,
                               const char *display_name)
{
  g_return_val_if_fail (fd >= 0, NULL);
  return content_attachment ("fd", "fd", g_variant_new_handle (fd), mime_type, display_name);
}

GVariant *
copilot_attachments_pass_fds (GVariant     *options,
                              GUnixFDList **fds,
                              GError      **error)
{
  g_autoptr(GVariant) list = g_variant_lookup_value (options, "attachments", G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr(GUnixFDList) passed = NULL;
  GVariantBuilder builder;
  GVariantDict dict;
  GVariantIter iter;
  GVariant *child;
  guint index = 0;

  *fds = NULL;
  if (list == NULL)
    return g_variant_ref (options);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_iter_init (&iter, list);
  for (; (child = g_variant_iter_next_value (&iter)) != NULL; index++)
    {
      g_autoptr(GVariant) entry = child;
      g_autoptr(GError) local_error = NULL;
      GVariantDict item;
      gint32 fd;
      int handle;

      if (!g_variant_lookup (entry, "fd", "h", &fd))
        {
          g_variant_builder_add_value (&builder, entry);
          continue;
        }
      if (passed == NULL)
        passed = g_unix_fd_list_new ();
      handle = g_unix_fd_list_append (passed, fd, &local_error);
      if (handle < 0)
        {
          g_set_error (error, COPILOT_ERROR, COPILOT_ERROR_INVALID_ARGS,
                       "Attachment %u: file descriptor %d cannot be passed: %s",
                       index, fd, local_error->message);
          g_variant_builder_clear (&builder);
          return NULL;
        }
      g_variant_dict_init (&item, entry);
      g_variant_dict_insert (&item, "fd", "h", (gint32) handle);
      g_variant_builder_add_value (&builder, g_variant_dict_end (&item));
    }
  if (passed == NULL)
    {
      g_variant_builder_clear (&builder);
      return g_variant_ref (options);
    }
  g_variant_dict_init (&dict, options);
  g_variant_dict_insert_value (&dict, "attachments", g_variant_builder_end (&builder));
  *fds = g_steal_pointer (&passed);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/**
 * copilot_attachments_to_options:
 * @options: (nullable): Send's (or Ask's) `a{sv}` options so far; a floating
 *   reference is consumed
 * @attachments: (array length=n_attachments): attachments made with the
 *   functions above; floating references are consumed
 * @n_attachments: how many
 *
 * Adds @attachments to the `attachments` of @options, for
 * copilot_session_send(), copilot_session_send_and_wait() and
 * copilot_client_ask().
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
