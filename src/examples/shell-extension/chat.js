// SPDX-License-Identifier: MIT
// chat.js: what the Copilot panel extension does, without any UI.
//
// The extension (extension.js) draws; this module talks to copilotd
// through libcopilot (gi://Copilot), so that a test can load it in plain
// `gjs -m` and drive a turn, with a permission prompt, through it.
import Copilot from 'gi://Copilot?version=1';
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';

Gio._promisify(Copilot.Client, 'new', 'new_finish');
Gio._promisify(Copilot.Client.prototype, 'create_session', 'create_session_finish');
Gio._promisify(Copilot.Session.prototype, 'send_and_wait', 'send_and_wait_finish');
Gio._promisify(Copilot.Agent.prototype, 'register', 'register_finish');
Gio._promisify(Copilot.Agent.prototype, 'request_default', 'request_default_finish');

/**
 * What a permission dialog shows: which app asks, and for what.
 *
 * @param {Copilot.Prompt} prompt - a permission prompt
 * @param {string} fallbackApp - the app to name when the daemon gives none
 * @returns {{app: string, title: string, body: string}}
 */
export function describePermission(prompt, fallbackApp) {
    const request = prompt.request.recursiveUnpack();
    const app = prompt.dup_client_name() ?? fallbackApp;
    const kind = request.kind ?? 'tool';
    let what;
    switch (kind) {
    case 'shell':
        what = `run the command “${request.command ?? ''}”`;
        break;
    case 'write':
        what = `write to ${request.path ?? 'a file'}`;
        break;
    case 'read':
        what = `read ${request.path ?? 'a file'}`;
        break;
    case 'url':
        what = `fetch ${request.url ?? 'a web page'}`;
        break;
    default:
        what = `use ${request['tool-name'] ?? kind}`;
    }
    return {
        app,
        title: `${app} wants Copilot to ${what}`,
        body: request.intention ?? '',
    };
}

/**
 * One conversation for the panel: ask, stream the answer, stop.
 *
 * Callbacks the UI sets:
 *  - onText(text): the answer so far (called as it streams);
 *  - onBusy(busy): a turn started or ended;
 *  - onPermission(description, prompt): returns a Promise of a
 *    Copilot.PermissionDecision (the modal dialog).
 */
export class Chat {
    constructor({busType = Gio.BusType.SESSION, clientName = 'GNOME Shell'} = {}) {
        this._busType = busType;
        this._clientName = clientName;
        this.onText = () => {};
        this.onBusy = () => {};
        this.onPermission = () => Promise.resolve(Copilot.PermissionDecision.REJECT);
        this._client = null;
        this._agent = null;
        this._session = null;
        this._cancellable = null;
        this._text = '';
    }

    get busy() {
        return this._cancellable !== null;
    }

    async start() {
        this._client = await Copilot.Client.new(this._busType, null);
        this._agent = Copilot.Agent.new(this._client, null);
        this._agent.connect('permission-requested', (_agent, prompt) => {
            this._askPermission(prompt);
        });
        await this._agent.register(null);
        // The shell is where the user is: prompts of apps without an
        // agent of their own come here.
        await this._agent.request_default(null);
    }

    async _askPermission(prompt) {
        const description = describePermission(prompt, this._clientName);
        let decision = Copilot.PermissionDecision.REJECT;
        try {
            decision = await this.onPermission(description, prompt);
        } catch (e) {
            logError(e, 'copilot: permission dialog');
        }
        if (!prompt.is_answered())
            prompt.reply(decision, null);
    }

    async _ensureSession() {
        if (this._session)
            return this._session;
        const options = new GLib.Variant('a{sv}', {
            'client-name': new GLib.Variant('s', this._clientName),
            'working-directory': new GLib.Variant('s', GLib.get_home_dir()),
        });
        this._session = await this._client.create_session(options, null);
        this._session.connect('delta', (_session, stream, text) => {
            if (stream !== 0)
                return;
            this._text += text;
            this.onText(this._text);
        });
        this._session.connect('message', (_session, _id, content) => {
            // Authoritative: replaces what streamed.
            this._text = content;
            this.onText(this._text);
        });
        this._session.connect('closed', () => {
            this._session = null;
        });
        return this._session;
    }

    /**
     * Asks @text; resolves to the answer, or null when stopped.
     *
     * @param {string} text - the question
     * @returns {Promise<string|null>}
     */
    async ask(text) {
        if (this.busy)
            throw new Error('A turn is running');
        const session = await this._ensureSession();
        this._text = '';
        this._cancellable = new Gio.Cancellable();
        this.onBusy(true);
        try {
            return await session.send_and_wait(text, null, this._cancellable);
        } catch (e) {
            if (e.matches?.(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED))
                return null;
            throw e;
        } finally {
            this._cancellable = null;
            this.onBusy(false);
        }
    }

    /** Stop: aborts the running turn. */
    stop() {
        this._cancellable?.cancel();
    }

    destroy() {
        this.stop();
        this._agent?.unregister(null, null);
        this._session = null;
        this._agent = null;
        this._client = null;
    }
}
