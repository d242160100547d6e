/* SPDX-License-Identifier: MIT */
/* users.c: can this user have a Copilot CLI of their own? (system bus)
 *
 * On the system bus every user's CLI runs as that user, in their home
 * (DESIGN.md §7). A user the system would not let log in, or one with no
 * home to work in, gets a clear refusal on the call that would have
 * started their CLI, instead of a CLI that cannot work and a restart loop.
 */
#include "config.h"

#include <pwd.h>
#include <shadow.h>
#include <time.h>

#include "copilotd-error.h"
#include "users.h"

/* Locked as passwd -l / usermod -L lock it, or past its expiry date
 * (chage -E). Reading shadow needs root, which the system bus daemon is;
 * where it cannot be read the account is not judged by it. */
static gboolean
account_locked (const char *name,
                const char **why)
{
  struct spwd *sp = getspnam (name);
  long today = (long) (time (NULL) / (24 * 60 * 60));

  if (sp == NULL)
    return FALSE;
  if (sp->sp_pwdp != NULL && sp->sp_pwdp[0] == '!')
    {
      *why = "locked";
      return TRUE;
    }
  if (sp->sp_expire >= 0 && sp->sp_expire <= today)
    {
      *why = "expired";
      return TRUE;
    }
  return FALSE;
}

gboolean
copilotd_user_check (uid_t    uid,
                     GError **error)
{
  struct passwd *pw = getpwuid (uid);
  const char *why = NULL;

  if (pw == NULL)
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                   "User %u has no account on this system", (guint) uid);
      return FALSE;
    }
  if (uid != 0 && account_locked (pw->pw_name, &why))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_ACCESS_DENIED,
                   "The account of user '%s' is %s", pw->pw_name, why);
      return FALSE;
    }
  if (pw->pw_dir == NULL || !g_path_is_absolute (pw->pw_dir) ||
      !g_file_test (pw->pw_dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, COPILOTD_ERROR, COPILOTD_ERROR_FAILED,
                   "User '%s' has no home directory ('%s'): copilotd runs each user's "
                   "Copilot CLI in their home", pw->pw_name, pw->pw_dir ? pw->pw_dir : "");
      return FALSE;
    }
  return TRUE;
}
