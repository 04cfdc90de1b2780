"""The ``secrets`` panel imperal-sdk registers for every extension declaring a secret.

imperal-sdk 6.3.7's own handler (``imperal_sdk.secrets.panel_handler``) raises
TypeError for any secret with ``write_mode="extension"`` and for any secret
read before (it passes ``color=`` to ``ui.Text``, which takes none), so the
registry serves this one in its place: the same cards, header, texts and
links, each state from ``ctx.secrets.list()``.
"""

import datetime

from imperal_sdk import ui

INTRO = (
    "Credentials this extension needs — API keys, OAuth tokens. Stored encrypted "
    "in Vault; never visible to admins or in logs."
)
EXTENSION_WRITES = "(extension-write only — written after authorize)"


async def render_secrets_panel(ctx, **params):
    """Return the panel's UI tree (a dict): one card per declared secret with its
    state and a link to the extension's secrets page."""
    app_id = ctx.extension_id
    statuses = {status.name: status for status in await ctx.secrets.list()}
    cards = [
        _card(app_id, spec, statuses.get(spec.name))
        for spec in ctx._declared_secrets.values()
    ]
    root = ui.Stack(
        children=[
            ui.Header(f"Secrets · {app_id}", level=2),
            ui.Text(INTRO),
            *cards,
            ui.Link(text="Open full Secrets manager →", href=f"/ext/{app_id}/secrets"),
        ]
    )
    return root.to_dict()


def _card(app_id, spec, status):
    is_set = bool(status and status.is_set)
    rows = [ui.Text(spec.description)]
    if is_set:
        rows.append(ui.Badge("Set", color="green"))
        if status.last_accessed_at:
            rows.append(ui.Text(_last_read(status.last_accessed_at), variant="caption"))
    else:
        rows.append(ui.Badge("Not set", color="gray"))
    if spec.write_mode == "extension":
        rows.append(ui.Text(EXTENSION_WRITES, variant="caption"))
    rows.append(
        ui.Button(
            label="Manage" if is_set else "Set value",
            variant="secondary" if is_set else "primary",
            on_click=ui.Navigate(path=f"/ext/{app_id}/secrets#{spec.name}"),
        )
    )
    return ui.Card(title=spec.name, content=ui.Stack(children=rows))


def _last_read(epoch_seconds):
    when = datetime.datetime.fromtimestamp(epoch_seconds, datetime.UTC)
    return f"Last read: {when:%Y-%m-%d %H:%M} UTC"
