/* SPDX-License-Identifier: MIT */
/* replies.h: the offline model's endpoints */
#pragma once

#include <stdio.h>

#include "http.h"

G_BEGIN_DECLS

typedef struct
{
  guint16 port;                 /* the API endpoint /copilot_internal/user names */
  gint delay_ms;                /* -1: not given on the command line */
  FILE *log;                    /* unowned, nullable: gets each completion request */
  guint64 next_call_id;
  guint64 next_completion_id;
} ModelState;

/* The HttpHandler of the offline model; @user_data is a ModelState. */
void replies_handle_request (HttpClient  *client,
                             HttpRequest *request,
                             gpointer     user_data);

G_END_DECLS
