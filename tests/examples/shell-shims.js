// SPDX-License-Identifier: MIT
// Stand-ins for what GNOME Shell gives an extension (gi://St, gi://Clutter
// and the resource:///org/gnome/shell/ modules), just enough to load
// src/examples/shell-extension/extension.js in plain `gjs -m` and drive its
// widgets as a user would: type a question, press Enter, answer the modal
// dialog, press Stop. shell-extension-ui.js points the extension's imports
// here.
import GObject from 'gi://GObject';

/** A minimal signal emitter for the widget stand-ins. */
class Emitter {
    constructor(props = {}) {
        Object.assign(this, props);
        this._handlers = [];
        this.children = [];
        this.destroyed = false;
    }

    connect(name, callback) {
        this._handlers.push({name, callback});
        return this._handlers.length;
    }

    emit(name, ...args) {
        for (const handler of this._handlers.filter(h => h.name === name))
            handler.callback(this, ...args);
    }

    add_child(child) {
        this.children.push(child);
    }

    destroy() {
        this.destroyed = true;
    }
}

class Label extends Emitter {
    constructor(props = {}) {
        super({text: '', ...props});
        this.clutter_text = new Emitter({line_wrap: false});
    }
}

class Entry extends Emitter {
    constructor(props = {}) {
        super({text: '', reactive: true, ...props});
        this.clutter_text = new Emitter();
    }
}

export const St = {
    BoxLayout: class BoxLayout extends Emitter {},
    Button: class Button extends Emitter {},
    Entry,
    Icon: class Icon extends Emitter {},
    Label,
};

export const Clutter = {KEY_Escape: 0xff1b};

/** Every dialog opened, in order; the test answers them. */
export const dialogs = [];

export const ModalDialog = {
    ModalDialog: GObject.registerClass({GTypeName: 'ShimModalDialog'},
        class ModalDialog extends GObject.Object {
            _init(params = {}) {
                super._init();
                this.params = params;
                this.contentLayout = new St.BoxLayout();
                this.buttons = [];
                this.state = 'new';
            }

            setButtons(buttons) {
                this.buttons = buttons;
            }

            open() {
                this.state = 'open';
                dialogs.push(this);
            }

            close() {
                this.state = 'closed';
            }
        }),
};

class PopupMenuSection {
    constructor() {
        this.actor = new St.BoxLayout();
    }
}

class Menu {
    constructor() {
        this.items = [];
    }

    addMenuItem(item) {
        this.items.push(item);
    }
}

export const PopupMenu = {PopupMenuSection};

export const PanelMenu = {
    Button: GObject.registerClass({GTypeName: 'ShimPanelMenuButton'},
        class Button extends GObject.Object {
            _init(alignment, name) {
                super._init();
                this.accessibleName = name;
                this.children = [];
                this.menu = new Menu();
                this.destroyed = false;
            }

            add_child(child) {
                this.children.push(child);
            }

            destroy() {
                this.destroyed = true;
            }
        }),
};

export const Main = {
    panel: {
        statusArea: {},
        addToStatusArea(role, indicator) {
            this.statusArea[role] = indicator;
        },
    },
};

export class Extension {
    constructor(metadata) {
        this.metadata = metadata;
        this.uuid = metadata.uuid;
    }
}
