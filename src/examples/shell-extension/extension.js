// SPDX-License-Identifier: MIT
// extension.js: the Copilot panel button of GNOME Shell (45 and later).
//
// A prompt entry, the answer streaming into a label, Stop, and permission
// prompts as a modal dialog naming the asking app. Everything but drawing
// is chat.js, which tests drive without a Shell.
import Clutter from 'gi://Clutter';
import Copilot from 'gi://Copilot?version=1';
import GObject from 'gi://GObject';
import St from 'gi://St';

import {Extension} from 'resource:///org/gnome/shell/extensions/extension.js';
import * as Main from 'resource:///org/gnome/shell/ui/main.js';
import * as ModalDialog from 'resource:///org/gnome/shell/ui/modalDialog.js';
import * as PanelMenu from 'resource:///org/gnome/shell/ui/panelMenu.js';
import * as PopupMenu from 'resource:///org/gnome/shell/ui/popupMenu.js';

import {Chat} from './chat.js';

const PermissionDialog = GObject.registerClass(
class PermissionDialog extends ModalDialog.ModalDialog {
    _init(description, resolve) {
        super._init({styleClass: 'copilot-permission-dialog'});
        const box = new St.BoxLayout({vertical: true, style: 'spacing: 12px'});
        box.add_child(new St.Label({text: description.title, style_class: 'headline'}));
        if (description.body)
            box.add_child(new St.Label({text: description.body}));
        this.contentLayout.add_child(box);
        const answer = decision => {
            resolve(decision);
            this.close();
        };
        this.setButtons([
            {label: 'Deny', action: () => answer(Copilot.PermissionDecision.REJECT), key: Clutter.KEY_Escape},
            {label: 'Allow once', action: () => answer(Copilot.PermissionDecision.APPROVE_ONCE)},
            {label: 'Allow for this session', action: () => answer(Copilot.PermissionDecision.APPROVE_SESSION), default: true},
        ]);
    }
});

const CopilotButton = GObject.registerClass(
class CopilotButton extends PanelMenu.Button {
    _init(chat) {
        super._init(0.5, 'Copilot');
        this._chat = chat;
        this.add_child(new St.Icon({icon_name: 'user-available-symbolic', style_class: 'system-status-icon'}));

        const section = new PopupMenu.PopupMenuSection();
        this._entry = new St.Entry({hint_text: 'Ask Copilot…', can_focus: true, x_expand: true});
        this._answer = new St.Label({text: '', x_expand: true});
        this._answer.clutter_text.line_wrap = true;
        this._stop = new St.Button({label: 'Stop', style_class: 'button', reactive: false});
        section.actor.add_child(this._entry);
        section.actor.add_child(this._answer);
        section.actor.add_child(this._stop);
        this.menu.addMenuItem(section);

        this._entry.clutter_text.connect('activate', () => this._ask());
        this._stop.connect('clicked', () => this._chat.stop());
        chat.onText = text => {
            this._answer.text = text;
        };
        chat.onBusy = busy => {
            this._stop.reactive = busy;
            this._entry.reactive = !busy;
        };
        chat.onPermission = description => new Promise(resolve => {
            new PermissionDialog(description, resolve).open();
        });
    }

    async _ask() {
        const text = this._entry.text.trim();
        if (!text || this._chat.busy)
            return;
        this._entry.text = '';
        try {
            const answer = await this._chat.ask(text);
            if (answer === null)
                this._answer.text += '\n(stopped)';
        } catch (e) {
            this._answer.text = e.message;
        }
    }
});

export default class CopilotExtension extends Extension {
    enable() {
        this._chat = new Chat({clientName: 'GNOME Shell'});
        this._button = new CopilotButton(this._chat);
        Main.panel.addToStatusArea(this.uuid, this._button);
        this._chat.start().catch(e => logError(e, 'copilot: cannot reach copilotd'));
    }

    disable() {
        this._chat?.destroy();
        this._chat = null;
        this._button?.destroy();
        this._button = null;
    }
}
