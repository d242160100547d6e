// SPDX-License-Identifier: MIT
// Drives the GNOME Shell extension's logic (chat.js) through a turn with
// a permission prompt it approves, then Stop on a long turn, in plain
// `gjs -m` against copilotd. Prints one JSON line of what it saw.
import Copilot from 'gi://Copilot?version=1';
import GLib from 'gi://GLib';
import System from 'system';

import {Chat} from '../../src/examples/shell-extension/chat.js';

const loop = new GLib.MainLoop(null, false);
const seen = {texts: [], descriptions: [], busy: []};

async function main() {
    const chat = new Chat({clientName: 'shell-test'});
    await chat.start();
    chat.onText = text => seen.texts.push(text);
    chat.onBusy = busy => seen.busy.push(busy);
    chat.onPermission = description => {
        seen.descriptions.push(description);
        // The dialog's answer comes later than the request.
        return new Promise(resolve => GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20, () => {
            resolve(Copilot.PermissionDecision.APPROVE_ONCE);
            return GLib.SOURCE_REMOVE;
        }));
    };
    seen.answer = await chat.ask('PERMISSION: ls -l');
    seen.lastText = seen.texts[seen.texts.length - 1];

    let stopped = false;
    chat.onText = () => {
        if (!stopped) {
            stopped = true;
            chat.stop();
        }
    };
    seen.stopped = await chat.ask('SLOW: 50');
    seen.busyAfter = chat.busy;
    seen.after = await chat.ask('still here?');
    chat.destroy();
}

main().then(() => {
    print(JSON.stringify(seen));
    loop.quit();
}).catch(e => {
    printerr(`shell-chat.js: ${e}\n${e.stack}`);
    System.exit(1);
});
loop.run();
