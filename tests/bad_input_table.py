"""The bad-input table of a module, as pytest tests a module's test file adopts.

A table maps each public name to ``(function, valid_kwargs, {argument: [bad values]})``. The shared
tests prove: the table lists every public function and class of the modules it covers; each call is
valid once the bad value is removed (so a ValueError below is caused by that value); and every bad
value raises ValueError, never another exception::

    globals().update(table_tests(TABLE, [mlp_training]))
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import pytest

Table = Mapping[str, tuple[Callable, dict, dict[str, list]]]


def public_callables(module, homes: Iterable[str] | None = None) -> set[str]:
    """Public functions and classes of ``module`` defined there (or in one of ``homes``, for re-exports)."""
    homes = set(homes or ()) | {module.__name__}
    return {name for name, obj in vars(module).items()
            if not name.startswith("_") and callable(obj) and getattr(obj, "__module__", None) in homes}


def table_tests(table: Table, modules: Iterable[Any], homes: Iterable[str] = (),
                match: Callable[[str], str | None] | None = None,
                cleanup: Callable[[], None] | None = None) -> dict[str, Callable]:
    """The three tests of ``table``; ``match(arg)`` is the regex the message must contain (None: any)."""
    modules, homes = list(modules), list(homes)
    cases = [(name, arg, bad) for name, (_, _, bads) in sorted(table.items()) for arg, values in bads.items()
             for bad in values]

    def test_the_bad_input_table_covers_every_public_function():
        public = set().union(*(public_callables(module, homes) for module in modules))
        assert set(table) == public

    @pytest.mark.parametrize("name", sorted(table))
    def test_the_table_calls_are_valid_without_the_bad_value(name):
        function, kwargs, _ = table[name]
        function(**kwargs)
        if cleanup:
            cleanup()

    @pytest.mark.parametrize("name, arg, bad", cases)
    def test_bad_input_raises_value_error(name, arg, bad):
        function, kwargs, _ = table[name]
        with pytest.raises(ValueError, match=match(arg) if match else None):
            function(**{**kwargs, arg: bad})
        if cleanup:
            cleanup()

    return {name: value for name, value in locals().items() if name.startswith("test_")}
