"""Validate custom resources against the upstream CRDs in k8s/schemas/upstream/, as the API server would.

The API server takes a CRD's `openAPIV3Schema` (a structural schema) and, on create: applies its defaults,
rejects unknown fields (`kubectl apply` asks for strict field validation), checks the value validations, the
`x-kubernetes-list-type` rules and the CEL rules of `x-kubernetes-validations`. Here: the schema is converted
to JSON Schema for jsonschema (unknown fields closed, int-or-string spelt out, `metadata` checked against the
Kubernetes ObjectMeta), defaults are applied first, and the list and CEL rules are checked by walking the
object with its schema (cel-python; transition rules, which compare with `oldSelf`, do not apply on create).
The CRD files are large, so everything loaded is cached.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml

UPSTREAM = Path(__file__).resolve().parents[2] / "k8s" / "schemas" / "upstream"
OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def served_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the `openAPIV3Schema` of every served version of every upstream CRD."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(UPSTREAM.rglob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=_LOADER)
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def _closed(node: Any) -> Any:
    """The structural schema as JSON Schema: objects with listed fields accept no others, int-or-string
    is either, descriptions dropped."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _closed(value) for key, value in node.items() if key not in ("description", "properties")}
    if "properties" in node:
        out["properties"] = {name: _closed(sub) for name, sub in node["properties"].items()}
        if not node.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in node:
            out["additionalProperties"] = False
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in node:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


@functools.cache
def json_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The JSON Schema for one custom kind; KeyError if no upstream CRD serves it."""
    schema = _closed(served_schemas()[(api_version, kind)])
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["properties"]["metadata"] = {"$ref": OBJECT_META}
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return schema


def is_custom(obj: dict[str, Any]) -> bool:
    return (obj.get("apiVersion"), obj.get("kind")) in served_schemas()


def with_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """A copy of ``value`` with the schema's defaults filled in where fields are missing (the API server's
    defaulting, which runs before validation)."""
    value = copy.deepcopy(value)
    _default(value, schema)
    return value


def _default(value: Any, schema: dict[str, Any]) -> None:
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name, sub in props.items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub:
                _default(item, sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(item, schema["items"])


@functools.cache
def _program(rule: str) -> celpy.Runner:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def rule_errors(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """What the list-type and CEL rules of ``schema`` reject in ``value`` (children first, as the server does)."""
    errors: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub:
                errors += rule_errors(item, sub, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            errors += rule_errors(item, schema["items"], f"{path}[{index}]")
        errors += _list_errors(value, schema, path)
    for rule in schema.get("x-kubernetes-validations") or []:
        if "oldSelf" in rule["rule"]:
            continue  # a transition rule: compares an update with the stored object
        try:
            result = _program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        except Exception as exc:  # the server reports a rule that cannot be evaluated as invalid too
            result = exc
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            errors.append(f"{path or '.'}: {rule.get('message') or rule['rule']} (rule {rule['rule']!r}: {result})")
    return errors


def _list_errors(value: list[Any], schema: dict[str, Any], path: str) -> list[str]:
    kind = schema.get("x-kubernetes-list-type")
    if kind == "set":
        seen = [yaml.safe_dump(item, sort_keys=True) for item in value]
        return [f"{path}: duplicate entries in a set"] if len(set(seen)) != len(seen) else []
    if kind == "map":
        keys = [tuple(item.get(k) for k in schema.get("x-kubernetes-list-map-keys") or []) for item in value]
        return (
            [f"{path}: duplicate map keys {sorted({k for k in keys if keys.count(k) > 1})}"]
            if len(set(keys)) != len(keys)
            else []
        )
    return []


def validate(obj: dict[str, Any], validator: jsonschema.protocols.Validator) -> None:
    """Raise jsonschema.ValidationError if the API server would reject ``obj`` (a custom resource).

    ``validator`` is a jsonschema validator for ``json_schema(...)`` of the object's kind whose registry
    resolves the Kubernetes definitions (ObjectMeta) of the Kubernetes version under test."""
    structural = served_schemas()[(obj["apiVersion"], obj["kind"])]
    defaulted = with_defaults(obj, structural)
    validator.validate(defaulted)
    errors = rule_errors(defaulted, structural)
    if errors:
        raise jsonschema.ValidationError("; ".join(errors))
