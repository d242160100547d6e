# SPDX-License-Identifier: MIT
"""What the libcopilot scripts (control.py, account.py, providers.py)
share: calling one async function of the library to its end."""
from gi.repository import GLib


def run(start, finish, *args):
    """Calls an async libcopilot function and iterates until it finished;
    returns its result or raises its GLib.Error."""
    box = {}
    loop = GLib.MainLoop()

    def done(source, res):
        try:
            box["value"] = finish(res)
        except GLib.Error as e:
            box["error"] = e
        loop.quit()
    start(*args, None, done)
    loop.run()
    if "error" in box:
        raise box["error"]
    return box["value"]
