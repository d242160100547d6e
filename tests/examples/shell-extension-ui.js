// SPDX-License-Identifier: MIT
// Loads the GNOME Shell extension itself (src/examples/shell-extension/
// extension.js, which uses chat.js) in plain `gjs -m`, with its Shell
// imports pointed at shell-shims.js, and uses it as a person would against
// copilotd: enable it, type a question that needs a permission, approve it
// in the modal dialog, read the answer in the label, then Stop a long turn
// and disable the extension. Prints one JSON line of what it saw.
// argv: the extension's directory.
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import System from 'system';

import * as Shims from './shell-shims.js';

const [extensionDir] = ARGV;
const loop = new GLib.MainLoop(null, false);
const seen = {};
const SHELL_IMPORT = /^import\s+(.+?)\s+from\s+'(gi:\/\/(?:St|Clutter)|resource:\/\/\/org\/gnome\/shell\/[^']+)';$/gm;

/** extension.js with its Shell imports taken from the shims, in a temporary folder. */
function shimmedExtension() {
    const source = new TextDecoder().decode(
        GLib.file_get_contents(GLib.build_filenamev([extensionDir, 'extension.js']))[1]);
    const shims = Gio.File.new_for_path(
        GLib.build_filenamev([GLib.path_get_dirname(System.programPath), 'shell-shims.js'])).get_uri();
    const chat = Gio.File.new_for_path(GLib.build_filenamev([extensionDir, 'chat.js'])).get_uri();
    let rewritten = 0;
    const text = source.replace(SHELL_IMPORT, (_line, clause) => {
        rewritten++;
        const name = clause.startsWith('{') ? clause : `{${clause.replace(/^\*\s+as\s+/, '')}}`;
        return `import ${name} from '${shims}';`;
    }).replace("from './chat.js';", `from '${chat}';`);
    seen.rewrittenImports = rewritten;
    const dir = GLib.dir_make_tmp('shell-extension-XXXXXX');
    const path = GLib.build_filenamev([dir, 'extension.js']);
    GLib.file_set_contents(path, text);
    return Gio.File.new_for_path(path).get_uri();
}

/** Resolves once @condition holds, checked as the main loop runs (at most 30 s). */
function waitFor(condition, what) {
    const deadline = GLib.get_monotonic_time() + 30 * GLib.USEC_PER_SEC;
    return new Promise((resolve, reject) => {
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, 10, () => {
            if (condition())
                resolve();
            else if (GLib.get_monotonic_time() > deadline)
                reject(new Error(`Timed out waiting for ${what}`));
            else
                return GLib.SOURCE_CONTINUE;
            return GLib.SOURCE_REMOVE;
        });
    });
}

/** Types @text into the panel's entry and presses Enter. */
function ask(button, text) {
    button._entry.text = text;
    button._entry.clutter_text.emit('activate');
}

async function main() {
    const metadata = JSON.parse(new TextDecoder().decode(
        GLib.file_get_contents(GLib.build_filenamev([extensionDir, 'metadata.json']))[1]));
    const {default: CopilotExtension} = await import(shimmedExtension());
    const extension = new CopilotExtension(metadata);
    extension.enable();
    const button = Shims.Main.panel.statusArea[metadata.uuid];
    seen.inPanel = button !== undefined;
    // The extension registers its agent as it is enabled.
    await waitFor(() => extension._chat?._agent?.registered, 'the agent to register');

    ask(button, 'PERMISSION: ls -l');
    await waitFor(() => Shims.dialogs.length === 1, 'the permission dialog');
    const dialog = Shims.dialogs[0];
    seen.dialogTitle = dialog.contentLayout.children[0].children[0].text;
    seen.dialogButtons = dialog.buttons.map(b => b.label);
    seen.stopDuringPrompt = button._stop.reactive;
    dialog.buttons.find(b => b.label === 'Allow once').action();
    seen.dialogState = dialog.state;
    await waitFor(() => !button._stop.reactive, 'the turn to end');
    seen.answer = button._answer.text;

    // Stop, pressed while the answer streams, aborts the turn.
    ask(button, 'SLOW: 50');
    await waitFor(() => button._stop.reactive && button._answer.text !== seen.answer, 'the answer to stream');
    seen.stopWhileStreaming = button._stop.reactive;
    button._stop.emit('clicked');
    await waitFor(() => !button._stop.reactive && button._answer.text.endsWith('(stopped)'), 'the turn to stop');
    seen.stopped = button._answer.text.endsWith('(stopped)');
    seen.entryAfter = button._entry.reactive;

    extension.disable();
    seen.buttonDestroyed = button.destroyed;
}

main().then(() => {
    print(JSON.stringify(seen));
    loop.quit();
}).catch(e => {
    printerr(`shell-extension-ui.js: ${e}\n${e.stack}`);
    System.exit(1);
});
loop.run();
