#!/usr/bin/env -S gjs -m
// SPDX-License-Identifier: MIT
// copilot-chat: a GTK 4 / libadwaita chat with GitHub Copilot through
// copilotd and libcopilot. Sessions in a sidebar (a GListModel), the
// answer streaming into a text view, Stop, model and mode pickers, and
// approval dialogs that name the asking app.
//
// For tests (tests/libcopilot/test-bindings.py runs it under Xvfb):
//   COPILOT_CHAT_TEST_PROMPT      sent once the window is up
//   COPILOT_CHAT_TEST_APPROVE=1   the approval dialog is answered "Allow"
//   COPILOT_CHAT_TEST_TRANSCRIPT  the text view's content is written there
//                                 when the turn ends
import Adw from 'gi://Adw?version=1';
import Copilot from 'gi://Copilot?version=1';
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gtk from 'gi://Gtk?version=4.0';
import System from 'system';

Gio._promisify(Copilot.Client, 'new', 'new_finish');
Gio._promisify(Copilot.Client.prototype, 'create_session', 'create_session_finish');
Gio._promisify(Copilot.Client.prototype, 'resume_session', 'resume_session_finish');
Gio._promisify(Copilot.Client.prototype, 'list_sessions', 'list_sessions_finish');
Gio._promisify(Copilot.Client.prototype, 'list_models', 'list_models_finish');
Gio._promisify(Copilot.Session.prototype, 'send_and_wait', 'send_and_wait_finish');
Gio._promisify(Copilot.Session.prototype, 'set_model', 'set_model_finish');
Gio._promisify(Copilot.Session.prototype, 'set_mode', 'set_mode_finish');
Gio._promisify(Copilot.Agent.prototype, 'register', 'register_finish');

const MODES = ['interactive', 'plan', 'autopilot'];

/* One row of the sidebar. */
const SessionItem = GObject.registerClass({
    Properties: {
        'session-id': GObject.ParamSpec.string('session-id', null, null,
            GObject.ParamFlags.READWRITE, ''),
        'title': GObject.ParamSpec.string('title', null, null,
            GObject.ParamFlags.READWRITE, ''),
    },
}, class SessionItem extends GObject.Object {});

const ChatWindow = GObject.registerClass(
class ChatWindow extends Adw.ApplicationWindow {
    _init(app) {
        super._init({application: app, title: 'Copilot', default_width: 900, default_height: 600});
        this._client = null;
        this._session = null;
        this._cancellable = null;
        this.sessions = new Gio.ListStore({item_type: SessionItem});

        // Sidebar: the sessions, a GListModel.
        const factory = new Gtk.SignalListItemFactory();
        factory.connect('setup', (_f, item) => {
            item.child = new Gtk.Label({xalign: 0, ellipsize: 3, margin_start: 6, margin_end: 6});
        });
        factory.connect('bind', (_f, item) => {
            item.child.label = item.item.title || item.item.session_id;
        });
        this._selection = new Gtk.SingleSelection({model: this.sessions, autoselect: false});
        this._selection.connect('notify::selected-item', () => this._openSelected());
        const list = new Gtk.ListView({model: this._selection, factory});
        const sidebar = new Gtk.ScrolledWindow({child: list, width_request: 220});

        // Header: new chat, model and mode pickers.
        const header = new Adw.HeaderBar();
        const newButton = new Gtk.Button({icon_name: 'list-add-symbolic', tooltip_text: 'New chat'});
        newButton.connect('clicked', () => this._newChat());
        header.pack_start(newButton);
        this._models = new Gtk.StringList();
        this._modelPicker = new Gtk.DropDown({model: this._models, tooltip_text: 'Model'});
        this._modelPicker.connect('notify::selected', () => this._applyModel());
        this._modePicker = Gtk.DropDown.new_from_strings(MODES);
        this._modePicker.tooltip_text = 'Mode';
        this._modePicker.connect('notify::selected', () => this._applyMode());
        header.pack_end(this._modePicker);
        header.pack_end(this._modelPicker);

        // The conversation.
        this._view = new Gtk.TextView({editable: false, cursor_visible: false,
            wrap_mode: Gtk.WrapMode.WORD_CHAR, vexpand: true,
            top_margin: 12, bottom_margin: 12, left_margin: 12, right_margin: 12});
        this._buffer = this._view.buffer;
        this._entry = new Gtk.Entry({hexpand: true, placeholder_text: 'Ask Copilot…'});
        this._entry.connect('activate', () => this.send());
        this._sendButton = new Gtk.Button({label: 'Send'});
        this._sendButton.connect('clicked', () => this.send());
        this._stopButton = new Gtk.Button({label: 'Stop', sensitive: false});
        this._stopButton.connect('clicked', () => this._cancellable?.cancel());
        const bottom = new Gtk.Box({spacing: 6, margin_top: 6, margin_bottom: 6, margin_start: 6, margin_end: 6});
        bottom.append(this._entry);
        bottom.append(this._sendButton);
        bottom.append(this._stopButton);
        const chat = new Gtk.Box({orientation: Gtk.Orientation.VERTICAL});
        chat.append(new Gtk.ScrolledWindow({child: this._view, vexpand: true}));
        chat.append(bottom);

        const paned = new Gtk.Paned({start_child: sidebar, end_child: chat, position: 220});
        const content = new Gtk.Box({orientation: Gtk.Orientation.VERTICAL});
        content.append(header);
        content.append(paned);
        this.content = content;
    }

    _append(text) {
        this._buffer.insert(this._buffer.get_end_iter(), text, -1);
    }

    async start() {
        this._client = await Copilot.Client.new(Gio.BusType.SESSION, null);
        this._agent = Copilot.Agent.new(this._client, null);
        this._agent.connect('permission-requested', (_a, prompt) => this._approve(prompt));
        await this._agent.register(null);

        const sessions = (await this._client.list_sessions(null, null)).recursiveUnpack();
        for (const s of sessions) {
            this.sessions.append(new SessionItem({
                session_id: s['session-id'],
                title: s.name || s.summary || s['session-id'].slice(0, 8),
            }));
        }
        const models = (await this._client.list_models(null, null)).recursiveUnpack();
        for (const m of models)
            this._models.append(m.id);
    }

    // The approval dialog: names the app whose session asks.
    _approve(prompt) {
        const request = prompt.request.recursiveUnpack();
        const app = prompt.dup_client_name() ?? 'Copilot Chat';
        const what = request.command ? `run “${request.command}”`
            : request.path ? `write to ${request.path}`
                : request.url ? `fetch ${request.url}` : `use ${request['tool-name'] ?? request.kind}`;
        const dialog = new Adw.MessageDialog({
            transient_for: this, modal: true,
            heading: `${app} wants Copilot to ${what}`,
            body: request.intention ?? '',
        });
        dialog.add_response('deny', 'Deny');
        dialog.add_response('allow', 'Allow');
        dialog.set_response_appearance('allow', Adw.ResponseAppearance.SUGGESTED);
        dialog.connect('response', (_d, response) => {
            if (!prompt.is_answered())
                prompt.reply(response === 'allow' ? Copilot.PermissionDecision.APPROVE_ONCE
                    : Copilot.PermissionDecision.REJECT, null);
        });
        prompt.connect('cancelled', () => dialog.close());
        dialog.present();
        this._append(`[${dialog.heading}]\n`);
        if (GLib.getenv('COPILOT_CHAT_TEST_APPROVE') === '1') {
            GLib.timeout_add(GLib.PRIORITY_DEFAULT, 300, () => {
                dialog.response('allow');
                dialog.close();
                return GLib.SOURCE_REMOVE;
            });
        }
    }

    _connectSession(session) {
        session.connect('delta', (_s, stream, text) => {
            if (stream === 0)
                this._append(text);
        });
        session.connect('notify::mode', () => {
            const i = MODES.indexOf(session.mode);
            if (i >= 0 && this._modePicker.selected !== i)
                this._modePicker.selected = i;
        });
    }

    async _ensureSession() {
        if (this._session)
            return this._session;
        const options = {'client-name': new GLib.Variant('s', 'Copilot Chat')};
        const model = this._modelPicker.selected_item?.string;
        if (model)
            options.model = new GLib.Variant('s', model);
        this._session = await this._client.create_session(new GLib.Variant('a{sv}', options), null);
        this._connectSession(this._session);
        this.sessions.insert(0, new SessionItem({session_id: this._session.id, title: 'New chat'}));
        return this._session;
    }

    _newChat() {
        this._session = null;
        this._buffer.text = '';
    }

    async _openSelected() {
        const item = this._selection.selected_item;
        if (!item || this._session?.id === item.session_id)
            return;
        this._session = await this._client.resume_session(item.session_id, null, null);
        this._connectSession(this._session);
        this._buffer.text = '';
    }

    async _applyModel() {
        const model = this._modelPicker.selected_item?.string;
        if (this._session && model)
            await this._session.set_model(model, null, null).catch(e => logError(e));
    }

    async _applyMode() {
        const mode = MODES[this._modePicker.selected];
        if (this._session && mode && this._session.mode !== mode)
            await this._session.set_mode(mode, null, null).catch(e => logError(e));
    }

    async send() {
        const text = this._entry.text.trim();
        if (!text || this._cancellable)
            return;
        this._entry.text = '';
        const session = await this._ensureSession();
        this._append(`You: ${text}\nCopilot: `);
        this._cancellable = new Gio.Cancellable();
        this._stopButton.sensitive = true;
        this._sendButton.sensitive = false;
        try {
            await session.send_and_wait(text, null, this._cancellable);
        } catch (e) {
            this._append(e.matches?.(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED) ? ' (stopped)' : ` (${e.message})`);
        } finally {
            this._append('\n\n');
            this._cancellable = null;
            this._stopButton.sensitive = false;
            this._sendButton.sensitive = true;
        }
        const transcript = GLib.getenv('COPILOT_CHAT_TEST_TRANSCRIPT');
        if (transcript) {
            GLib.file_set_contents(transcript, this._buffer.text);
            printerr('copilot-chat: transcript written');
        }
    }

    sendForTest(text) {
        this._entry.text = text;
        this.send();
    }
});

const app = new Adw.Application({application_id: 'io.github.copilotd.Chat', flags: Gio.ApplicationFlags.NON_UNIQUE});
app.connect('activate', () => {
    const win = new ChatWindow(app);
    win.present();
    win.start().then(() => {
        const prompt = GLib.getenv('COPILOT_CHAT_TEST_PROMPT');
        if (prompt)
            win.sendForTest(prompt);
    }).catch(e => {
        printerr(`copilot-chat: ${e.message}`);
        app.quit();
    });
});
System.exit(app.run([System.programInvocationName].concat(ARGV)));
