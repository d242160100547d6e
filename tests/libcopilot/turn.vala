// SPDX-License-Identifier: MIT
// A turn through libcopilot's VAPI: proves the bindings compile and work.
async int run (MainLoop loop) {
    try {
        var client = yield new Copilot.Client (BusType.SESSION, null);
        var session = yield client.create_session (null, null);
        var deltas = new StringBuilder ();
        session.delta.connect ((stream, text) => {
            if (stream == 0)
                deltas.append (text);
        });
        var answer = yield session.send_and_wait ("hello from vala", null, null);
        stdout.printf ("{\"answer\": \"%s\", \"deltas\": \"%s\"}\n", answer, deltas.str);
        loop.quit ();
        return 0;
    } catch (Error e) {
        stderr.printf ("turn.vala: %s\n", e.message);
        loop.quit ();
        return 1;
    }
}

int main () {
    var loop = new MainLoop ();
    int status = 1;
    run.begin (loop, (obj, res) => { status = run.end (res); });
    loop.run ();
    return status;
}
