"""Walk what a handler reaches from its ctx by public names; report what it may not hold.

What an extension may hold is an AllowList's (apps.extensions.reachable.KERNEL
in-process, apps.runtime.worker.reachable.WORKER in an isolated worker, where
this module is imported too: it needs nothing else of the platform); this is
only the walk. From the root it reads every public name (no leading
underscore, none a library base class defines: see LIBRARY_BASES), calls
every method it meets — with the arguments a recipe gives, or with none when
it takes none — awaits what a call returns, iterates containers, iterables
and async iterators, and enters async context managers; an exception a read
or a call raises is walked like a result. Each object reached is checked with
kind_of(); a forbidden one is reported with the path that reached it
(``ctx.db.session().__aenter__().execute('SELECT 1')``). A method that needs
arguments and has no recipe is reported as uncovered, so a new public method
cannot slip past the walk. Public names are those ``dir()`` lists: a name only
``__getattr__`` answers is not listed (ScopedUserId forwards its context's,
reached through ``.context``).
"""

import asyncio
import inspect
import types
from dataclasses import dataclass, field

from apps.runtime.worker import reachable
from apps.runtime.worker.reachable import type_name

MAX_DEPTH = 12  # steps from ctx; the scoped contexts end the chains well before
MAX_ITEMS = 4  # items taken from a container, an iterable or an async iterator
CALL_TIMEOUT = 20.0  # seconds an awaited call may take


@dataclass(frozen=True)
class Call:
    """The arguments of one call a recipe makes."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def label(self):
        parts = [_short(a) for a in self.args]
        parts += [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return ", ".join(parts)


@dataclass
class Walk:
    """One walk from a root object, against the AllowList ``allowed``.

    ``recipes`` maps a method's key (``module.Class.method`` of the class
    defining it; ``__call__`` for a callable object) to the Calls to make, or
    to a function returning them (fresh arguments for each call, such as a
    coroutine); ``not_called`` maps a key to the reason it is not called.
    """

    allowed: reachable.AllowList
    own_modules: tuple = ()
    recipes: dict = field(default_factory=dict)
    not_called: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)
    uncovered: set = field(default_factory=set)
    reached: set = field(default_factory=set)
    texts: set = field(default_factory=set)
    called: set = field(default_factory=set)
    cut: list = field(default_factory=list)
    _seen: dict = field(default_factory=dict)

    async def run(self, root, path="ctx"):
        """Walk from ``root``; return the report (see :meth:`report`)."""
        await self.visit(root, path, 0)
        return self.report()

    def report(self):
        """Return {findings, uncovered, cut, reached, called, texts, objects} as JSON
        values.

        ``cut`` lists the paths not followed further because MAX_DEPTH was
        reached; ``texts`` every string reached (bytes decoded), for a check
        that no credential is among them; ``objects`` counts the objects
        walked (values aside).
        """
        return {
            "objects": len(self._seen),
            "findings": list(self.findings),
            "cut": list(self.cut),
            "uncovered": sorted(self.uncovered),
            "reached": sorted(self.reached),
            "called": sorted(self.called),
            "texts": sorted(self.texts),
        }

    async def visit(self, obj, path, depth):
        kind = self.allowed.kind_of(obj, self.own_modules)
        if kind is None:
            self.findings.append(f"{path}: {_describe(obj)}")
            return
        self.reached.add(type_name(type(obj)))
        if isinstance(obj, str | bytes):
            self.texts.add(_text(obj))
        if kind == reachable.VALUE or id(obj) in self._seen:
            return
        if depth >= MAX_DEPTH:
            self.cut.append(path)
            return
        self._seen[id(obj)] = obj  # held, so that no id is reused during the walk
        if kind == reachable.CONTAINER:
            await self._visit_items(obj, path, depth)
        elif kind in (reachable.OBJECT, reachable.ERROR):
            await self._visit_object(obj, path, depth, kind)
        elif kind == reachable.AWAITABLE:
            await self._await(obj, path, depth)
        elif kind == reachable.ASYNC_ITERATOR:
            await self._iterate_async(obj, path, depth)

    async def _visit_items(self, obj, path, depth):
        if isinstance(obj, dict):
            for key, value in list(obj.items())[:MAX_ITEMS]:
                await self.visit(key, f"{path}.keys()", depth + 1)
                await self.visit(value, f"{path}[{_short(key)}]", depth + 1)
            return
        for index, item in enumerate(list(obj)[:MAX_ITEMS]):
            await self.visit(item, f"{path}[{index}]", depth + 1)

    async def _visit_object(self, obj, path, depth, kind):
        cls = type(obj)
        try:
            names = sorted(dir(obj))
        except Exception as exc:
            await self.visit(exc, f"dir({path}) raised", depth + 1)
            names = []
        for name in names:
            if name.startswith("_") or _library_name(cls, name):
                continue
            await self._visit_name(obj, name, f"{path}.{name}", depth)
        if kind == reachable.ERROR:
            return
        if callable(obj):
            await self._call(_defining_key(cls, "__call__"), obj, path, depth)
        if hasattr(cls, "__aenter__"):
            await self._enter(obj, path, depth)
        if hasattr(cls, "__iter__") and not isinstance(obj, str):
            await self._visit_items(_taken(obj), path, depth)

    async def _visit_name(self, obj, name, path, depth):
        try:
            value = getattr(obj, name)
        except Exception as exc:
            await self.visit(exc, f"{path} raised", depth + 1)
            return
        await self.visit(value, path, depth + 1)
        if self.allowed.kind_of(value, self.own_modules) == reachable.METHOD:
            key = _defining_key(type(obj), name)
            await self._call(key, value, path, depth)

    async def _call(self, key, method, path, depth):
        if key in self.not_called:
            return
        calls = self.recipes.get(key)
        if calls is None:
            if not _takes_no_arguments(method):
                self.uncovered.add(key)
                return
            calls = [Call()]
        if callable(calls):
            calls = calls()
        self.called.add(key)
        for call in calls:
            label = f"{path}({call.label()})"
            try:
                result = method(*call.args, **call.kwargs)
            except Exception as exc:
                await self.visit(exc, f"{label} raised", depth + 1)
                continue
            await self.visit(result, label, depth + 1)

    async def _await(self, coroutine, path, depth):
        try:
            result = await asyncio.wait_for(coroutine, CALL_TIMEOUT)
        except Exception as exc:
            await self.visit(exc, f"{path} raised", depth)
            return
        await self.visit(result, path, depth)

    async def _iterate_async(self, iterator, path, depth):
        index = 0
        try:
            async for item in iterator:
                await self.visit(item, f"{path}[{index}]", depth + 1)
                index += 1
                if index == MAX_ITEMS:
                    break
        except Exception as exc:
            await self.visit(exc, f"{path}[{index}] raised", depth + 1)
        finally:
            await iterator.aclose()

    async def _enter(self, manager, path, depth):
        entered_path = f"{path}.__aenter__()"
        try:
            async with manager as entered:
                await self.visit(entered, entered_path, depth + 1)
        except Exception as exc:
            await self.visit(exc, f"{entered_path} raised", depth + 1)


def _describe(obj):
    if isinstance(obj, type):
        return f"class {type_name(obj)}"
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    return type_name(type(obj))


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)  # a str subclass (ScopedUserId) as the plain string


def _taken(iterable):
    items = []
    for item in iterable:
        items.append(item)
        if len(items) == MAX_ITEMS:
            break
    return items


def _defining_class(cls, name):
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def _defining_key(cls, name):
    owner = _defining_class(cls, name) or cls
    return f"{type_name(owner)}.{name}"


def _library_name(cls, name):
    owner = _defining_class(cls, name)
    return owner is not None and type_name(owner) in reachable.LIBRARY_BASES


def _takes_no_arguments(method):
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in signature.parameters.values()
    )


def _short(value):
    text = value.__name__ if isinstance(value, type) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
