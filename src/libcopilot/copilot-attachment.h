/* SPDX-License-Identifier: MIT */
/* copilot-attachment.h: the attachments of a turn, as Send takes them */
#pragma once

#include "copilot-types.h"

G_BEGIN_DECLS

COPILOT_PUBLIC
GVariant *copilot_attachment_new_file      (const char *path,
                                            const char *display_name);
COPILOT_PUBLIC
GVariant *copilot_attachment_new_directory (const char *path,
                                            const char *display_name);
COPILOT_PUBLIC
GVariant *copilot_attachment_new_blob      (GBytes     *data,
                                            const char *mime_type,
                                            const char *display_name);
COPILOT_PUBLIC
GVariant *copilot_attachment_new_for_fd    (int         fd,
                                            const char *mime_type,
                                            const char *display_name);
COPILOT_PUBLIC
GVariant *copilot_attachments_to_options   (GVariant   *options,
                                            GVariant  **attachments,
                                            guint       n_attachments);

G_END_DECLS
