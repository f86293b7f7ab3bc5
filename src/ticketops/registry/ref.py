"""A reference to a registered model version: ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``.

The one place these URIs are parsed and written; nothing here talks to the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEME = "models:/"


class ModelNotFound(LookupError):
    """The URI names an alias, version or model that the registry does not have."""


@dataclass(frozen=True)
class ModelRef:
    """A parsed ``models:/name@alias`` or ``models:/name/version``; ``str()`` gives the URI back."""

    name: str
    alias: str | None = None
    version: str | None = None

    @classmethod
    def version_of(cls, name: str, version: str | int) -> ModelRef:
        """``models:/name/version``: one registered version, whatever aliases move later."""
        return cls(name, version=str(version))

    @classmethod
    def alias_of(cls, name: str, alias: str) -> ModelRef:
        """``models:/name@alias``: whichever version the alias points to when it is resolved."""
        return cls(name, alias=alias)

    def __str__(self) -> str:
        return f"{SCHEME}{self.name}@{self.alias}" if self.alias else f"{SCHEME}{self.name}/{self.version}"


def is_registry_uri(uri: str) -> bool:
    """True for ``models:/...`` (anything else is a package folder or a ``bento:`` tag)."""
    return uri.startswith(SCHEME)


def parse_model_uri(uri: str) -> ModelRef:
    if not is_registry_uri(uri):
        raise ValueError(f"not a registry URI (expected models:/NAME@ALIAS or models:/NAME/VERSION): {uri!r}")
    rest = uri.removeprefix(SCHEME).strip("/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        if name and alias:
            return ModelRef.alias_of(name, alias)
    elif "/" in rest:
        name, version = rest.rsplit("/", 1)
        if name and version.isdigit():
            return ModelRef.version_of(name, version)
    raise ValueError(f"malformed model URI {uri!r} (expected models:/NAME@ALIAS or models:/NAME/VERSION)")
