/* SPDX-License-Identifier: MIT */
/* manager-account.h: Manager.SignIn, SignOut and GetAccount (contract §8) */
#pragma once

#include "manager.h"

G_BEGIN_DECLS

void copilotd_manager_account_iface_init (CopilotdDbusManagerIface *iface);

G_END_DECLS
