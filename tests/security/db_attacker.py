"""An extension whose author attacks PostgreSQL through ctx.db with the SQL it is given."""

from imperal_sdk import Extension

ext = Extension("db-attacker", description="Runs the SQL it is given through ctx.db.")


@ext.tool("run_sql", description="Run statements through ctx.db in one borrow.")
async def run_sql(ctx, statements: list[str], mode: str = "acquire") -> dict:
    scope = ctx.db.session() if mode == "session" else ctx.db.acquire()
    rows = []
    async with scope as conn:
        for sql in statements:
            rows = (await conn.execute(sql)).all()
    return {"rows": rows}
