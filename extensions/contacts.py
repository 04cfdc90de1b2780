"""A small address book: the seed's "contacts" collection as its own extension."""

from imperal_sdk import Extension

ext = Extension(
    "contacts",
    version="1.0.0",
    display_name="Contacts",
    description="Contacts extension — keep an address book per user, searchable by email.",
    icon="icon.svg",
    actions_explicit=True,
)


@ext.tool("add_contact", description="Add a contact; returns its id.")
async def add_contact(ctx, name: str, email: str, phone: str = "") -> dict:
    doc = await ctx.store.create(
        "contacts", {"name": name, "email": email, "phone": phone}
    )
    return {"status": "success", "id": doc.id}


@ext.tool("list_contacts", description="List your contacts, newest first.")
async def list_contacts(ctx, limit: int = 50, cursor: str | None = None) -> dict:
    page = await ctx.store.query(
        "contacts", order_by="-created_at", limit=limit, cursor=cursor
    )
    return {
        "items": [{"id": d.id, **d.data} for d in page.data],
        "cursor": page.cursor,
        "has_more": page.has_more,
    }


@ext.tool("find_contact", description="Find a contact by email.")
async def find_contact(ctx, email: str) -> dict:
    page = await ctx.store.query("contacts", where={"email": email}, limit=1)
    if not page.data:
        return {"status": "not_found", "email": email}
    doc = page.data[0]
    return {"status": "success", "id": doc.id, **doc.data}


@ext.tool("delete_contact", description="Delete a contact by id.")
async def delete_contact(ctx, contact_id: str) -> dict:
    deleted = await ctx.store.delete("contacts", contact_id)
    return {"status": "success" if deleted else "not_found", "id": contact_id}


@ext.panel("address_book", slot="left", title="Contacts")
async def address_book(ctx, limit: int = 20) -> dict:
    total = await ctx.store.count("contacts")
    page = await ctx.store.query("contacts", order_by="name", limit=limit)
    return {"total": total, "contacts": [{"id": d.id, **d.data} for d in page.data]}
