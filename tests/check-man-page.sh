#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when a built man page has a template variable left in it or when
# man/groff warn about it while rendering it.
set -eu
page=$1
if grep -n '@[A-Za-z_]*@' "$page"; then
  echo "$page: template variables were not substituted" >&2
  exit 1
fi
warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
if [ -n "$warnings" ]; then
  printf '%s\n' "$warnings" >&2
  exit 1
fi
