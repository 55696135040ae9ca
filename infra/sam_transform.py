"""The SAM template as CloudFormation sees it after the SAM transform, offline.

Used by infra/sam-lint.sh (dependency cycles) and infra/iam-parity.sh (each
function's role), with the Python of the aws-sam-cli tool venv."""

import json
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform


class _NoManagedPolicies:
    """Managed policies stay as the ARNs the template names (no AWS lookup)."""

    def load(self):
        return {}


def load_transformed(path):
    """(template, transformed resources) of the SAM template at `path`."""
    template, matches = decode(path)
    if matches:
        sys.exit(f"cannot parse {path}")
    template = json.loads(json.dumps(template))
    # Local code is uploaded by `sam deploy`; the transform wants a location.
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://bucket/key"
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    transformed = transform(json.loads(json.dumps(template)), {}, _NoManagedPolicies())
    return template, transformed["Resources"]
