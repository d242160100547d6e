/* SPDX-License-Identifier: MIT */
/* object-manager.h: the ObjectManager and the session objects, each shown to its owner UID */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "callers.h"

G_BEGIN_DECLS

typedef struct _CopilotdObjectManager CopilotdObjectManager;

/* @unicast: signals go to each known connection of an object's UID (the
 * system bus) instead of being broadcast (the session bus). */
CopilotdObjectManager *copilotd_object_manager_new      (GDBusConnection       *connection,
                                                         CopilotdCallers       *callers,
                                                         gboolean               unicast);
void                   copilotd_object_manager_free     (CopilotdObjectManager *self);
/* org.freedesktop.DBus.ObjectManager at the root, and every session path. */
gboolean               copilotd_object_manager_register (CopilotdObjectManager *self,
                                                         GError               **error);

/* @skeleton (not exported itself) is served at @path, a session path, to
 * connections of @uid; InterfacesAdded and PropertiesChanged reach them. */
void                   copilotd_object_manager_export   (CopilotdObjectManager  *self,
                                                         GDBusInterfaceSkeleton *skeleton,
                                                         const char             *path,
                                                         uid_t                   uid);
/* Pending PropertiesChanged, then InterfacesRemoved; later calls on
 * @path get NotFound. */
void                   copilotd_object_manager_unexport (CopilotdObjectManager *self,
                                                         const char            *path);

/* Sends a signal about @uid's objects to the connections that may see
 * them; @parameters is consumed when floating. */
void                   copilotd_object_manager_emit     (CopilotdObjectManager *self,
                                                         uid_t                  uid,
                                                         const char            *path,
                                                         const char            *interface_name,
                                                         const char            *signal_name,
                                                         GVariant              *parameters);

G_END_DECLS
