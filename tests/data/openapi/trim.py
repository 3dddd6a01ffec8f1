#!/usr/bin/env python3
"""Trims an OpenAPI document to the given paths and every schema they reference (transitively),
leaving out examples.

    python3 trim.py FULL_SPEC.json OUT.json /path/one /path/two ...
"""
import json
import sys


def refs(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "$ref" and isinstance(v, str):
                out.add(v)
            else:
                refs(v, out)
    elif isinstance(value, list):
        for v in value:
            refs(v, out)


def pointer(doc, ref):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def strip(value):
    """Examples are left out: they are data, not the API's shape."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in ("example", "examples", "x-examples")}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def main():
    src, dst, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    doc = json.load(open(src))
    keep = {k: v for k, v in doc.items() if k not in ("paths", "components", "definitions", "x-tagGroups", "tags")}
    keep["paths"] = {p: doc["paths"][p] for p in paths}
    seen, pending = set(), set()
    refs(keep, pending)
    while pending:
        r = pending.pop()
        if r in seen:
            continue
        seen.add(r)
        refs(pointer(doc, r), pending)
    for r in sorted(seen):
        parts = r.lstrip("#/").split("/")
        node, target = doc, keep
        for part in parts[:-1]:
            node = node[part]
            target = target.setdefault(part, {})
        target[parts[-1]] = node[parts[-1]]
    for section in ("securitySchemes",):
        if "components" in doc and section in doc["components"]:
            keep.setdefault("components", {})[section] = doc["components"][section]
    if "securityDefinitions" in doc:
        keep["securityDefinitions"] = doc["securityDefinitions"]
    json.dump(strip(keep), open(dst, "w"), indent=1, sort_keys=True)
    open(dst, "a").write("\n")


main()
