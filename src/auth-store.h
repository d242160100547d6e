/* SPDX-License-Identifier: MIT */
/* auth-store.h: GitHub tokens the daemon keeps for CLIs without a keychain */
#pragma once

#include <json-glib/json-glib.h>

#include "backend.h"

G_BEGIN_DECLS

/* Keeps @token (and @host) for @backend, replacing what it had; signs it in
 * again (account.login) each time that CLI comes back. The token is never
 * logged. */
void      copilotd_auth_store_set     (CopilotdBackend *backend,
                                       const char      *host,
                                       const char      *token);
void      copilotd_auth_store_forget  (CopilotdBackend *backend);
/* The login the kept token resolved to (SignIn asks the CLI after
 * account.login). */
void      copilotd_auth_store_set_login (CopilotdBackend *backend,
                                         const char      *login);
/* The CLI's authInfo of the kept sign-in ({type: user, host, login}), or
 * NULL when no token is kept or its login is not known. */
JsonObject *copilotd_auth_store_identity (CopilotdBackend *backend);
gboolean  copilotd_auth_store_has     (CopilotdBackend *backend);
/* Adds gitHubToken to session.create/resume @params of a session of
 * @backend, when a token is kept for it. */
void      copilotd_auth_store_apply   (CopilotdBackend *backend,
                                       JsonObject      *params);
/* The session.gitHubAuth.setCredentials params for a live session
 * (without sessionId), or NULL when no token is kept. */
JsonObject *copilotd_auth_store_credentials (CopilotdBackend *backend);
/* Replaces every occurrence of a kept token in @text by "(token)". */
char     *copilotd_auth_store_scrub   (const char      *text,
                                       const char      *token);

G_END_DECLS
