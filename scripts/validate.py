#!/usr/bin/env python3
"""Validators the Rust tests run on what Areya sends (see scripts/python-test-requirements.txt).

  validate.py fhir BUNDLE.json...        each file parses as a FHIR R4B Bundle (fhir.resources)
  validate.py openapi DOC.json SAMPLES   each sample matches the document's schema for it

SAMPLES is a JSON list of {"method", "path" (the route template), "status", "body"} for
responses, and {"event": name, "data": payload} for live events (checked against LiveEvent).
Prints one line per failure and exits 1 if any failed.
"""
import json
import sys


def fhir(paths):
    from fhir.resources.R4B.bundle import Bundle

    bad = 0
    for p in paths:
        try:
            Bundle.model_validate_json(open(p, encoding="utf-8").read())
        except Exception as e:  # every validation error is reported, then the exit code says so
            bad += 1
            print(f"{p}: {e}")
    return bad


def openapi(doc_path, samples_path):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    doc = json.load(open(doc_path, encoding="utf-8"))
    samples = json.load(open(samples_path, encoding="utf-8"))
    uri = "urn:areya:openapi"
    # The whole document is the resource the schemas' "#/components/…" refs resolve in.
    registry = Registry().with_resource(uri, Resource.from_contents(doc, default_specification=DRAFT202012))

    def check(schema, value, what):
        v = Draft202012Validator({"$ref": uri + schema}, registry=registry)
        errs = sorted(v.iter_errors(value), key=lambda e: list(e.path))
        for e in errs[:5]:
            print(f"{what}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message[:300]}")
        return 1 if errs else 0

    bad = 0
    for s in samples:
        if "event" in s:
            bad += check("#/components/schemas/LiveEvent", {"event": s["event"], "data": s["data"]}, f"event {s['event']}")
            continue
        op = doc["paths"].get(s["path"], {}).get(s["method"].lower())
        if op is None:
            bad += 1
            print(f"{s['method']} {s['path']}: not in the document")
            continue
        resp = op["responses"].get(str(s["status"]))
        if resp is None:
            bad += 1
            print(f"{s['method']} {s['path']}: status {s['status']} not documented")
            continue
        content = resp.get("content", {})
        media = next((m for m in content if "json" in m), None)
        if media is None:
            bad += 1
            print(f"{s['method']} {s['path']} {s['status']}: no JSON body documented")
            continue
        pointer = "#/paths/" + s["path"].replace("~", "~0").replace("/", "~1") + f"/{s['method'].lower()}/responses/{s['status']}/content/" + media.replace("~", "~0").replace("/", "~1") + "/schema"
        bad += check(pointer, s["body"], f"{s['method']} {s['path']} {s['status']}")
    print(f"{len(samples)} samples, {bad} failed")
    return bad


if __name__ == "__main__":
    kind, args = sys.argv[1], sys.argv[2:]
    failed = fhir(args) if kind == "fhir" else openapi(*args)
    sys.exit(1 if failed else 0)
