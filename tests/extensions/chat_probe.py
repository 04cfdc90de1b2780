"""A ChatExtension with typed functions, as imperal-sdk's chat template writes them."""

from imperal_sdk import ActionResult, ChatExtension, Extension
from pydantic import BaseModel, Field

ext = Extension("chat-probe", description="Chat functions for the kernel's tests.")
chat = ChatExtension(ext, tool_name="chat_probe", description="Chat probe.")


class NoteParams(BaseModel):
    title: str = Field(description="Title of the note")
    pinned: bool = False


@chat.function("add_note", action_type="write", description="Add a note for the user.")
async def add_note(ctx, params: NoteParams) -> ActionResult:
    doc = await ctx.store.create("notes", params.model_dump())
    return ActionResult.success(
        data={"id": doc.id, "tool_type": ctx._tool_type},
        summary=f"Added {params.title}",
    )


@chat.function("count_notes", description="Count the user's notes.")
async def count_notes(ctx) -> ActionResult:
    return ActionResult.success(data={"count": await ctx.store.count("notes")})


@ext.tool("count_notes", description="A tool that shadows the chat function.")
async def count_notes_tool(ctx) -> dict:
    return {"from": "tool"}
