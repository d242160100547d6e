// SPDX-License-Identifier: MIT
// A turn through libcopilot's typelib from GJS: an agent that approves a
// shell command, streamed deltas, the final answer. Prints one JSON line.
imports.gi.versions.Copilot = '1';
const {Copilot, Gio, GLib} = imports.gi;

Gio._promisify(Copilot.Client, 'new', 'new_finish');
Gio._promisify(Copilot.Client.prototype, 'create_session', 'create_session_finish');
Gio._promisify(Copilot.Session.prototype, 'send_and_wait', 'send_and_wait_finish');
Gio._promisify(Copilot.Agent.prototype, 'register', 'register_finish');

const loop = new GLib.MainLoop(null, false);
const result = {};

async function main() {
    const client = await Copilot.Client.new(Gio.BusType.SESSION, null);
    const agent = Copilot.Agent.new(client, null);
    const prompts = [];
    agent.connect('permission-requested', (_agent, prompt) => {
        prompts.push(prompt);
        const request = prompt.request.deepUnpack();
        result.command = request.command.deepUnpack();
        // Answer later, as a dialog would.
        GLib.idle_add(GLib.PRIORITY_DEFAULT, () => {
            prompt.reply(Copilot.PermissionDecision.APPROVE_ONCE, null);
            return GLib.SOURCE_REMOVE;
        });
    });
    await agent.register(null);

    const session = await client.create_session(
        new GLib.Variant('a{sv}', {'client-name': new GLib.Variant('s', 'gjs-test')}), null);
    let deltas = '';
    session.connect('delta', (_s, stream, text) => {
        if (stream === 0)
            deltas += text;
    });
    result.permission = await session.send_and_wait('PERMISSION: ls -l', null, null);
    deltas = '';
    result.answer = await session.send_and_wait('hello from gjs', null, null);
    result.deltas = deltas;
    result.state = session.state;
}

main().then(() => {
    print(JSON.stringify(result));
    loop.quit();
}).catch(e => {
    printerr(`turn.js: ${e}\n${e.stack}`);
    imports.system.exit(1);
});
loop.run();
