"""More of the API server's own duties for the emulator: resourceVersion, managedFields, the status subresource.

What the Argo backend and reconciler rely on, so the emulator must do it as the API server does:

- ``metadata.resourceVersion`` changes on every write, and a write that carries one (optimistic concurrency)
  is refused with 409 Conflict when the object has changed since;
- ``metadata.managedFields`` records, for every Update operation, the manager (``?fieldManager=`` or the
  User-Agent up to its first ``/``, as kube-apiserver derives it), the time, the subresource and the fields it
  changed; a field changed by one manager leaves the other managers' sets, and an empty entry is dropped.
  Lists are atomic here (kube-apiserver keys some by name); ownership of whole fields is what the code reads;
- the status subresource: a write to the object ignores ``status``, a write to ``/status`` ignores all else.
"""

from __future__ import annotations

import copy
import itertools
import time
import uuid
from typing import Any

import kmock
from kmock._internal.dicts import patch_dict  # the emulator's own merge: predicts exactly what it will store
from kmock._internal.k8s import KubernetesError

from tests.helpers.k8s_emulator import EmulatedApiServer, GenerationTrackingEmulator

WITH_STATUS = {"rollouts", "deployments", "replicasets"}  # resources whose CRD/type has a status subresource
UNTRACKED_META = {"resourceVersion", "generation", "managedFields", "uid", "creationTimestamp"}
_versions = itertools.count(1000)

Path = tuple[str, ...]


def leaves(obj: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Every leaf field of ``obj`` (lists and empty dicts are leaves) by path."""
    if not isinstance(obj, dict) or not obj:
        return {prefix: obj} if prefix else {}
    out: dict[Path, Any] = {}
    for key, value in obj.items():
        if not prefix and key in ("apiVersion", "kind"):
            continue
        if prefix == ("metadata",) and key in UNTRACKED_META:
            continue
        out.update(leaves(value, (*prefix, key)))
    return out


def fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def paths_of(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, child in tree.items():
        path = (*prefix, key.removeprefix("f:"))
        out |= paths_of(child, path) if child else {path}
    return out


def _related(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def managed_fields(entries: list[dict], manager: str, subresource: str | None, changed: set[Path], api: str):
    """The entries after ``manager`` changed ``changed`` (an Update operation)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out, mine = [], set()
    for entry in entries:
        owned = paths_of(entry.get("fieldsV1") or {})
        if entry["manager"] == manager and entry.get("subresource") == subresource:
            mine = owned
            continue
        kept = {p for p in owned if not any(_related(p, c) for c in changed)}
        if kept:
            out.append({**entry, "fieldsV1": fields_v1(kept)})
    entry = {"manager": manager, "operation": "Update", "apiVersion": api, "time": now, "fieldsType": "FieldsV1"}
    entry["fieldsV1"] = fields_v1(mine | changed)
    if subresource:
        entry["subresource"] = subresource
    return [*out, entry]


def _manager(request: Any) -> str:
    if request.params.get("fieldManager"):
        return request.params["fieldManager"]
    agent = next((v for k, v in request.headers.items() if k.lower() == "user-agent"), "unknown")
    return agent.split("/")[0][:128]


def _metadata_ops(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"op": "add", "path": f"/metadata/{key}", "value": value} for key, value in values.items()]


class FieldTrackingEmulator(GenerationTrackingEmulator):
    async def _handle(self, request: Any) -> Any:
        writes = request.resource is not None and request.action in (kmock.action.CREATE, kmock.action.UPDATE)
        if not writes or request.data is None:
            return await super()._handle(request)
        data = copy.deepcopy(request.data)
        if request.resource.plural in WITH_STATUS and isinstance(data, dict):
            meta = {"metadata": {"resourceVersion": data.get("metadata", {}).get("resourceVersion")}}
            if request.subresource == "status":
                data = {"status": data.get("status"), **(meta if meta["metadata"]["resourceVersion"] else {})}
            else:
                data.pop("status", None)
        meta = data.get("metadata", {}) if isinstance(data, dict) else {}
        name = request.name or meta.get("name")
        key = (request.resource, request.namespace or meta.get("namespace"), name)
        exists = key in self.objects and not self.objects[key].deleted
        before = copy.deepcopy(self.objects[key].raw) if exists else {}
        wanted = meta.get("resourceVersion")
        if exists and wanted and wanted != before["metadata"].get("resourceVersion"):
            raise KubernetesError(
                status=409,
                reason="Conflict",
                message=f'Operation cannot be fulfilled on {request.resource.plural} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        after = patch_dict(copy.deepcopy(before), data) if exists else copy.deepcopy(data)
        old, new = leaves(before), leaves(after)
        changed = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
        extra: dict[str, Any] = {"resourceVersion": str(next(_versions))}
        if changed:
            entries = (before.get("metadata") or {}).get("managedFields") or []
            api = after.get("apiVersion") or before.get("apiVersion") or ""
            extra["managedFields"] = managed_fields(entries, _manager(request), request.subresource, changed, api)
        if not exists:
            extra["uid"] = str(uuid.uuid4())
            extra["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if isinstance(data, dict):
            data = patch_dict(data, {"metadata": extra})
        else:  # a JSON patch: the same values as operations (a spec change also moves the generation)
            if before.get("spec") != after.get("spec"):
                extra["generation"] = (before["metadata"].get("generation") or 0) + 1
            data = [*data, *_metadata_ops(extra)]
        object.__setattr__(request, "data", data)  # the request as the server will store it (attrs-frozen)
        return await super()._handle(request)


class FieldTrackingApiServer(EmulatedApiServer):
    """The emulated API server with resourceVersion, managedFields and status subresources."""

    emulator_class = FieldTrackingEmulator
