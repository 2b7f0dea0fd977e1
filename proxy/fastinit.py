"""A cheaper ``__init__`` for the frozen, slotted dataclasses made per datagram.

``dataclasses`` gives a frozen class an ``__init__`` that stores every field through
``object.__setattr__`` (its frozen ``__setattr__`` refuses). Storing through the slot
descriptors does the same at half the cost of creating an event, record or check; no
library does this, hence this module (measured in ``docs/performance.md``).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from typing import Any, TypeVar

_T = TypeVar("_T")
_FACTORY: Any = getattr(dataclasses, "_HAS_DEFAULT_FACTORY", None)
"""The default ``dataclasses`` gives a field with a ``default_factory`` (``<factory>``)."""
_VARARGS, _VARKEYWORDS = inspect.CO_VARARGS, inspect.CO_VARKEYWORDS


def fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass an ``__init__`` that stores each field through its
    slot descriptor instead of ``object.__setattr__`` (what ``dataclasses`` generates for
    frozen classes): half the cost of creating an event, record or check.

    Same parameters, defaults, factories, annotations and errors; the instance is the
    same. A class this cannot mirror exactly (not frozen or not slotted, ``__post_init__``,
    ``InitVar``, keyword-only or ``init=False`` fields) keeps its generated ``__init__``.
    Use it above ``@dataclass(frozen=True, slots=True)``.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        return cls
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    generated = cls.__init__
    code = generated.__code__
    names = [f.name for f in fields]
    try:
        setters = [getattr(cls, n).__set__ for n in names]
    except AttributeError:
        return cls
    if (_FACTORY is None or hasattr(cls, "__post_init__") or "self" in names
            or any(not isinstance(getattr(cls, n), types.MemberDescriptorType) for n in names)
            or any(not f.init or f.kw_only is True for f in fields)
            or code.co_kwonlyargcount or code.co_flags & (_VARARGS | _VARKEYWORDS)
            or code.co_varnames[:code.co_argcount] != ("self", *names)):
        return cls
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    args: list[str] = []
    body: list[str] = []
    for i, f in enumerate(fields):
        namespace[f"_set{i}"] = setters[i]
        value = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"_default{i}"] = f.default
            args.append(f"{f.name}=_default{i}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory{i}"] = f.default_factory
            args.append(f"{f.name}=_FACTORY")
            value = f"_factory{i}() if {f.name} is _FACTORY else {f.name}"
        else:
            args.append(f.name)
        body.append(f"    _set{i}(self, {value})")
    source = f"def __init__(self, {', '.join(args)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # trusted text: built from field names
    init = namespace["__init__"]
    init.__qualname__ = generated.__qualname__
    init.__module__ = generated.__module__
    init.__annotations__ = dict(generated.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
